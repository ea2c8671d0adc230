import Crypto
import Foundation
import KeyProviders
import LegateCore
import LegateCrypto
import LegateWire

/// Opens and seals envelopes on the agent with the connector's key manager, and performs the
/// `secret.*` / `connector.validate` tasks. Plaintext lives only in ``SecretBytes`` here.
struct SecretWorker: Sendable {
    let pool: ConnectorPool
    let context: ProviderContext
    /// Told about decrypted connector credentials, so the agent's own log lines mask them.
    let revealed: @Sendable (_ owner: String, _ values: [[UInt8]]) -> Void

    init(
        registry: ProviderRegistry, context: ProviderContext,
        revealed: @escaping @Sendable (_ owner: String, _ values: [[UInt8]]) -> Void = { _, _ in }
    ) {
        self.pool = ConnectorPool(registry: registry, context: context)
        self.context = context
        self.revealed = revealed
    }

    struct Failure: LegateError {
        let code: String
        let message: String
        var origin: ErrorOrigin
        var persistence: ErrorPersistence { .permanent }
    }

    /// The driver's view of a connector: its settings plus its credentials, decrypted here with
    /// the built-in connector that holds them.
    func descriptor(_ c: ConnectorRef) async throws -> ConnectorDescriptor {
        var credentials: [String: SecretBytes] = [:]
        for (setting, m) in (c.credentials ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard m.connector.type == "builtin", m.connector.credentials == nil, let envelope = m.envelope else {
                throw Failure(
                    code: "credential_not_builtin",
                    message: "Credential '\(setting)' of connector \(c.id) is not a built-in secret; connector credentials must be built-in secrets.",
                    origin: .configuration)
            }
            // Keyed by identity too: a hit must never skip the AAD check of another identity.
            let cacheKey = "\(m.identity.scope)\u{0}\(m.identity.name)\u{0}\(m.identity.version)\u{0}\(envelope)"
            if let known = await pool.credential(envelope: cacheKey) {
                credentials[setting] = known
                continue
            }
            do {
                let value = try await open(envelope: envelope, identity: m.identity, connector: m.connector).value
                await pool.remember(credential: value, envelope: cacheKey)
                credentials[setting] = value
            } catch let e as any LegateError {
                throw Failure(code: e.code, message: "Cannot decrypt credential '\(setting)' of connector \(c.id): \(e.message)", origin: e.origin)
            }
        }
        if !credentials.isEmpty {
            revealed("connector:\(c.id)", credentials.values.map { $0.withUnsafeBytes { Array($0) } })
        }
        return ConnectorDescriptor(id: c.id, type: c.type, config: c.config, credentials: credentials)
    }

    /// Runs driver upkeep every `interval` until cancelled (the agent's lifetime).
    func maintainDrivers(every interval: Duration) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await pool.maintain()
        }
    }

    func connector(_ c: ConnectorRef) async throws -> Connector {
        try await pool.connector(try await descriptor(c))
    }

    func keyManager(_ c: ConnectorRef) async throws -> any KeyManager {
        switch try await connector(c) {
        case .keyManager(let km): return km
        case .secretStore:
            throw ProviderError.configuration(
                "not_a_key_manager", "Connector \(c.id) (\(c.type)) stores secrets itself; it cannot encrypt envelopes.")
        }
    }

    func secretStore(_ c: ConnectorRef) async throws -> any SecretStore {
        switch try await connector(c) {
        case .secretStore(let store): return store
        case .keyManager:
            throw ProviderError.configuration("not_a_secret_store", "Connector \(c.id) (\(c.type)) is a key manager; it does not store values.")
        }
    }

    static func identity(_ w: WireSecretIdentity) -> SecretIdentity {
        SecretIdentity(scope: w.scope, name: w.name, version: w.version)
    }

    /// Decrypts one envelope; returns the value, its data key and header (for re-sealing).
    func open(envelope text: String, identity w: WireSecretIdentity, connector: ConnectorRef) async throws
        -> (value: SecretBytes, dataKey: SymmetricKeyBox, header: EnvelopeHeader)
    {
        let identity = Self.identity(w)
        let bytes = try Envelope.decodeText(text)
        let header = try Envelope.header(of: bytes)
        guard header.connectorId == connector.id else {
            throw Failure(
                code: "connector_mismatch",
                message: "Secret \(identity) was sealed by connector \(header.connectorId), not \(connector.id); its record was moved or tampered with.",
                origin: .configuration)
        }
        let km = try await keyManager(connector)
        let dataKey = try await context.retry.run {
            try await km.unwrapDataKey(
                WrappedDataKey(keyRef: header.keyRef, keyVersion: header.keyVersion, wrapped: header.wrappedKey), for: identity)
        }
        return (try Envelope.open(bytes, identity: identity, dataKey: dataKey), SymmetricKeyBox(key: dataKey), header)
    }

    /// The value of a secret a task uses: opened from its envelope, or read from its store.
    func open(_ m: SecretMaterial) async throws -> SecretBytes {
        do {
            if let envelope = m.envelope {
                return try await open(envelope: envelope, identity: m.identity, connector: m.connector).value
            }
            guard let path = m.path else {
                throw Failure(code: "bad_task", message: "The task carries neither an envelope nor a store path.", origin: .external)
            }
            let store = try await secretStore(m.connector)
            return try await context.retry.run { try await store.get(path, version: m.storeVersion) }
        } catch let e as any LegateError {
            throw Failure(code: e.code, message: "Cannot \(m.envelope == nil ? "read" : "decrypt") secret '\(m.reference)': \(e.message)", origin: e.origin)
        }
    }

    func seal(_ value: SecretBytes, identity w: WireSecretIdentity, connector: ConnectorRef) async throws -> (String, UInt32) {
        let identity = Self.identity(w)
        let km = try await keyManager(connector)
        let generated = try await context.retry.run { try await km.generateDataKey(for: identity) }
        let envelope = try Envelope.seal(
            value, identity: identity, connectorId: connector.id, keyRef: generated.wrapped.keyRef,
            keyVersion: generated.wrapped.keyVersion, dataKey: generated.key, wrappedKey: generated.wrapped.wrapped)
        return (Envelope.encodeText(envelope), generated.wrapped.keyVersion)
    }

    /// Runs a secret task; the output carries envelopes, store versions or a report, never plaintext.
    /// `taskId` makes store writes idempotent across retries and re-runs of this task only.
    func perform(_ op: SecretOperation, taskId: String) async throws -> [String: String] {
        switch op.kind {
        case .validate:
            // "Test connection" answers within the manager's wait: fewer, shorter retries.
            var retry = context.retry
            retry.deadline = min(retry.deadline, .seconds(10))
            let report: ValidationReport
            switch try await connector(op.connector) {
            case .keyManager(let km): report = try await retry.run { try await km.validate() }
            case .secretStore(let store): report = try await retry.run { try await store.validate() }
            }
            var out = ["checks": report.checks.joined(separator: "\n")]
            out["route"] = report.route
            return out
        case .encrypt:
            guard let identity = op.identity, let b64 = op.plaintext, let raw = Data(base64Encoded: b64) else {
                throw Failure(code: "bad_task", message: "secret.encrypt task without identity or value.", origin: .external)
            }
            let value = SecretBytes(raw)
            let (envelope, version) = try await seal(value, identity: identity, connector: op.connector)
            return ["envelope": envelope, "keyVersion": String(version)]
        case .upsert:
            guard let identity = op.identity, let path = op.path, let b64 = op.plaintext, let raw = Data(base64Encoded: b64) else {
                throw Failure(code: "bad_task", message: "secret.upsert task without identity, path or value.", origin: .external)
            }
            let value = SecretBytes(raw)
            let store = try await secretStore(op.connector)
            // Stable across retries and re-runs of this task, new for every other write (a lost
            // result must not block the next update with a reused token).
            let options = StoreWriteOptions(binary: op.binary ?? false, idempotencyToken: "\(taskId)/\(identity.scope)/\(identity.name)/v\(identity.version)")
            let version = try await context.retry.run { try await store.put(path, value: value, options: options) }
            return ["path": path, "storeVersion": version ?? ""]
        case .delete:
            guard let path = op.path else {
                throw Failure(code: "bad_task", message: "secret.delete task without a path.", origin: .external)
            }
            let store = try await secretStore(op.connector)
            try await context.retry.run { try await store.delete(path) }
            return ["path": path]
        case .rewrap:
            guard let identity = op.identity, let envelope = op.envelope else {
                throw Failure(code: "bad_task", message: "secret.rewrap task without identity or envelope.", origin: .external)
            }
            let (value, dataKey, header) = try await open(envelope: envelope, identity: identity, connector: op.connector)
            let km = try await keyManager(op.connector)
            let rewrapped = try await context.retry.run {
                try await km.rewrapDataKey(
                    WrappedDataKey(keyRef: header.keyRef, keyVersion: header.keyVersion, wrapped: header.wrappedKey),
                    for: Self.identity(identity))
            }
            // The header is part of the AAD, so the value is re-sealed (same data key, fresh nonce).
            let sealed = try Envelope.seal(
                value, identity: Self.identity(identity), connectorId: op.connector.id, keyRef: rewrapped.keyRef,
                keyVersion: rewrapped.keyVersion, dataKey: dataKey.key, wrappedKey: rewrapped.wrapped)
            return ["envelope": Envelope.encodeText(sealed), "keyVersion": String(rewrapped.keyVersion)]
        case .migrate:
            guard let identity = op.identity, let envelope = op.envelope, let target = op.target else {
                throw Failure(code: "bad_task", message: "secret.migrate task without identity, envelope or target.", origin: .external)
            }
            let (value, _, _) = try await open(envelope: envelope, identity: identity, connector: op.connector)
            let (sealed, version) = try await seal(value, identity: identity, connector: target)
            return ["envelope": sealed, "keyVersion": String(version)]
        }
    }
}

/// Carries a data key between steps without exposing it in descriptions.
struct SymmetricKeyBox: Sendable, CustomStringConvertible {
    let key: SymmetricKey
    var description: String { "<redacted>" }
}
