import Crypto
import Foundation
import KeyProviders
import LegateCore
import LegateCrypto
import LegateWire

/// Opens and seals envelopes on the agent with the connector's key manager, and performs the
/// `secret.*` / `connector.validate` tasks. Plaintext lives only in ``SecretBytes`` here.
struct SecretWorker: Sendable {
    let registry: ProviderRegistry
    let context: ProviderContext

    struct Failure: LegateError {
        let code: String
        let message: String
        var origin: ErrorOrigin
        var persistence: ErrorPersistence { .permanent }
    }

    func keyManager(_ c: ConnectorRef) throws -> any KeyManager {
        try registry.keyManager(ConnectorDescriptor(id: c.id, type: c.type, config: c.config), context: context)
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
        let km = try keyManager(connector)
        let dataKey = try await context.retry.run {
            try await km.unwrapDataKey(
                WrappedDataKey(keyRef: header.keyRef, keyVersion: header.keyVersion, wrapped: header.wrappedKey), for: identity)
        }
        return (try Envelope.open(bytes, identity: identity, dataKey: dataKey), SymmetricKeyBox(key: dataKey), header)
    }

    func open(_ m: SecretMaterial) async throws -> SecretBytes {
        do {
            return try await open(envelope: m.envelope, identity: m.identity, connector: m.connector).value
        } catch let e as any LegateError {
            throw Failure(code: e.code, message: "Cannot decrypt secret '\(m.reference)': \(e.message)", origin: e.origin)
        }
    }

    func seal(_ value: SecretBytes, identity w: WireSecretIdentity, connector: ConnectorRef) async throws -> (String, UInt32) {
        let identity = Self.identity(w)
        let km = try keyManager(connector)
        let generated = try await context.retry.run { try await km.generateDataKey(for: identity) }
        let envelope = try Envelope.seal(
            value, identity: identity, connectorId: connector.id, keyRef: generated.wrapped.keyRef,
            keyVersion: generated.wrapped.keyVersion, dataKey: generated.key, wrappedKey: generated.wrapped.wrapped)
        return (Envelope.encodeText(envelope), generated.wrapped.keyVersion)
    }

    /// Runs a secret task; the output carries envelopes or a report, never plaintext.
    func perform(_ op: SecretOperation) async throws -> [String: String] {
        switch op.kind {
        case .validate:
            let report = try await keyManager(op.connector).validate()
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
        case .rewrap:
            guard let identity = op.identity, let envelope = op.envelope else {
                throw Failure(code: "bad_task", message: "secret.rewrap task without identity or envelope.", origin: .external)
            }
            let (value, dataKey, header) = try await open(envelope: envelope, identity: identity, connector: op.connector)
            let km = try keyManager(op.connector)
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
