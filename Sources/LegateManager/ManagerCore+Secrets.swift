import Foundation
import LegateCore
import LegateWire

/// Plaintext of pending `secret.encrypt` tasks. Memory only: if the manager restarts before a
/// delegate took the task, the task fails and the operator submits the value again.
actor PlaintextVault {
    private var values: [String: String] = [:]
    func put(_ taskId: String, _ base64: String) { values[taskId] = base64 }
    func get(_ taskId: String) -> String? { values[taskId] }
    func drop(_ taskId: String) { values[taskId] = nil }
}

/// Connector types the manager records. Drivers other than `builtin` run on delegates that have
/// them; a delegate without the driver fails such a task with a clear error.
let knownConnectorTypes = ["builtin", "awskms", "awssecretsmanager", "vault", "gcpkms", "azurekeyvault", "cyberark"]

/// Settings each driver reads (docs/connectors.md). The manager refuses other names so a typo is
/// reported when the connector is created, not ignored on every delegate. Types without a driver
/// yet are not checked. Keep in step with the drivers (ProviderAWS, ProviderVault, builtin).
let connectorSettings: [String: Set<String>] = {
    let aws: Set<String> = [
        "region", "endpoint", "stsEndpoint", "useFipsEndpoint", "credentialType", "roleArn", "externalId", "sessionName",
        "durationSeconds", "webIdentityTokenFile", "requestTimeoutSeconds",
    ]
    return [
        "builtin": ["keyRef"],
        "awskms": aws.union(["keyId", "dataKeyCache", "dataKeyCacheEntries", "dataKeyCacheTtlSeconds", "dataKeyGeneration"]),
        "awssecretsmanager": aws.union(["secretPrefix", "kmsKeyId", "recoveryWindowDays", "readOnly"]),
        "vault": [
            "address", "namespace", "allowHttp", "engine", "mount", "kvVersion", "basePath", "valueKey", "readOnly", "checkAndSet",
            "keyName", "derived", "requestTimeoutSeconds", "authMethod", "authMount", "role", "roleId", "serviceAccountTokenFile",
            "jwtFile",
        ],
    ]
}()

/// Credential names beyond the settings (any setting may also be given as a credential).
let connectorCredentials: [String: Set<String>] = [
    "awskms": ["accessKeyId", "secretAccessKey", "sessionToken", "webIdentityToken"],
    "awssecretsmanager": ["accessKeyId", "secretAccessKey", "sessionToken", "webIdentityToken"],
    "vault": ["token", "secretId", "jwt"],
]

/// Checks setting and credential names against what the type's driver reads.
func validateSettingNames(type: String, config: [String: String], credentials: [String: String]) throws {
    guard let settings = connectorSettings[type] else { return }
    for key in config.keys.sorted() where !settings.contains(key) {
        let near = settings.first { $0.lowercased() == key.lowercased() }
        throw APIError(
            .badRequest, "unknown_setting",
            "Connector type '\(type)' has no setting '\(key)'\(near.map { " (did you mean '\($0)'?)" } ?? ""); settings: \(settings.sorted().joined(separator: ", ")).")
    }
    let allowed = settings.union(connectorCredentials[type] ?? [])
    for key in credentials.keys.sorted() where !allowed.contains(key) {
        throw APIError(
            .badRequest, "unknown_setting",
            "Connector type '\(type)' has no credential '\(key)'; credentials: \(allowed.sorted().joined(separator: ", ")).")
    }
}

/// Whether a connector keeps values itself (the manager stores only a path) rather than
/// wrapping data keys for envelopes. Vault is a KV store unless its engine is `transit`.
func isSecretStore(_ c: ManagerStore.ConnectorRecord) -> Bool {
    switch c.type {
    case "awssecretsmanager", "cyberark": true
    case "vault": (c.config["engine"] ?? "kv").trimmingWhitespace().lowercased() != "transit"
    case "azurekeyvault": (c.config["mode"] ?? "secrets").lowercased() != "keys"
    default: false
    }
}

/// Values shorter than this are not masked in output (too many false positives); the operator is warned.
let minimumMaskedLength = 4

extension ManagerCore {
    // MARK: Connectors

    public func createConnector(_ req: CreateConnectorRequest, actor: String) async throws -> ConnectorView {
        let scope = try parseScope(req.scope, what: "connector scope")
        let name = req.name.trimmingWhitespace()
        try validateName(name, what: "Connector name")
        guard knownConnectorTypes.contains(req.type) else {
            throw APIError(
                .badRequest, "unsupported_connector_type",
                "Connector type '\(req.type)' is unknown; use one of \(knownConnectorTypes.joined(separator: ", ")).")
        }
        var config = req.config ?? [:]
        if req.type == "builtin" && config["keyRef"] == nil { config["keyRef"] = name.lowercased() }
        let credentials = req.credentials ?? [:]
        if req.type == "builtin" && !credentials.isEmpty {
            throw APIError(.badRequest, "invalid_field", "A built-in connector keeps its key on the delegates; it takes no credentials.")
        }
        try validateSettingNames(type: req.type, config: config, credentials: credentials)
        try await validateCredentials(credentials, connectorName: name, scope: scope)
        for s in req.selectors ?? [] {
            do { try Selectors.validate(s, what: "Selector") } catch { throw APIError(.badRequest, "invalid_field", error.message) }
        }
        if try await store.connector(scope: scope.description, name: name) != nil {
            throw APIError(.conflict, "already_exists", "A connector named '\(name)' already exists in \(scope).")
        }
        let record = ManagerStore.ConnectorRecord(
            id: Identifiers.make(prefix: "c_"), name: name, type: req.type, scope: scope.description, config: config,
            selectors: Selectors.normalize(req.selectors ?? []), credentials: credentials, createdAt: now())
        do { try await store.insertConnector(record) } catch let e as StoreError where e.isUniqueViolation {
            throw APIError(.conflict, "already_exists", "A connector named '\(name)' already exists in \(scope).")
        }
        try await store.audit(actor: actor, action: "connector.create", target: record.id, detail: "\(record.type) \(scope)/\(name)", now: now())
        return record.view
    }

    /// Connector credentials must be secrets of a built-in connector: never the connector itself
    /// (it could not decrypt its own credentials) nor another external connector (seed 001).
    func validateCredentials(_ credentials: [String: String], connectorName: String, scope: Scope) async throws {
        for (setting, expression) in credentials {
            let reference = try parseReference(expression, field: "credentials.\(setting)")
            let secret = try await lookup(reference, from: scope)
            guard let c = try await store.connector(id: secret.connectorId) else { continue }
            if c.name == connectorName && c.scope == scope.description {
                throw APIError(.badRequest, "self_reference", "Credential '\(setting)' refers to a secret stored in connector '\(connectorName)' itself; store connector credentials in a built-in connector.")
            }
            guard c.type == "builtin" else {
                throw APIError(.badRequest, "cross_connector_reference", "Credential '\(setting)' refers to secret '\(expression)' stored in the \(c.type) connector '\(c.name)'; connector credentials must be built-in secrets.")
            }
        }
    }

    public func connectorViews() async throws -> [ConnectorView] { try await store.connectors().map(\.view) }

    /// Finds a connector by id, or by name in `scope` and its parents (nearest first).
    func findConnector(_ idOrName: String, near scope: Scope) async throws -> ManagerStore.ConnectorRecord {
        if let c = try await store.connector(id: idOrName) { return c }
        var candidates: [Scope] = [scope]
        if let org = scope.org, org != scope { candidates.append(org) }
        if scope.account != scope { candidates.append(scope.account) }
        for s in candidates {
            if let c = try await store.connector(scope: s.description, name: idOrName) { return c }
        }
        throw APIError(.notFound, "connector_not_found", "No connector '\(idOrName)' in \(scope) or the scopes above it.")
    }

    /// The account's `builtin` connector, created on first use.
    func defaultConnector(for scope: Scope, actor: String) async throws -> ManagerStore.ConnectorRecord {
        if let c = try await store.connector(scope: scope.account.description, name: "builtin"), c.type == "builtin" { return c }
        _ = try await createConnector(
            CreateConnectorRequest(name: "builtin", type: "builtin", scope: scope.account.description, config: ["keyRef": "default"]),
            actor: actor)
        return try await findConnector("builtin", near: scope.account)
    }

    // MARK: Secrets

    public func createSecret(_ req: CreateSecretRequest, actor: String) async throws -> SecretView {
        let scope = try parseScope(req.scope, what: "secret scope")
        try validateName(req.name, what: "Secret name")
        let bytes: Data?
        if let value = req.value {
            guard let b = Data(base64Encoded: value) else {
                throw APIError(.badRequest, "invalid_field", "'value' must be base64; the CLI encodes it for you (--value-file).")
            }
            guard b.count <= 512 << 10 else {
                throw APIError(.contentTooLarge, "payload_too_large", "Secret values are limited to 512 KiB.")
            }
            bytes = b
        } else {
            bytes = nil
        }
        let connector: ManagerStore.ConnectorRecord
        if let name = req.connector {
            connector = try await findConnector(name, near: scope)
        } else {
            connector = try await defaultConnector(for: scope, actor: actor)
        }
        let connectorScope = try parseScope(connector.scope, what: "connector scope")
        guard connectorScope.contains(scope) else {
            throw APIError(
                .badRequest, "scope_violation",
                "Secret scope \(scope) is not inside connector '\(connector.name)''s scope \(connectorScope); a secret must live within its connector's scope.")
        }
        let usage = try (req.usageScopes ?? [scope.description]).map { try parseScope($0, what: "usage scope") }
        for u in usage where !scope.contains(u) {
            throw APIError(
                .badRequest, "scope_violation",
                "Usage scope \(u) is not inside the secret's scope \(scope); usage scopes can only narrow where a secret may be used.")
        }
        let store = isSecretStore(connector)
        var path: String?
        if store {
            path = try validatePath(req.path ?? "\(scope)/\(req.name)")
        } else if req.path != nil {
            throw APIError(
                .badRequest, "invalid_field",
                "'path' applies to secret-store connectors only; connector '\(connector.name)' (\(connector.type)) encrypts values into envelopes.")
        }
        guard bytes != nil || store else {
            throw APIError(.badRequest, "missing_field", "'value' is required (base64); only a secret-store connector can refer to an existing value by 'path'.")
        }
        if try await self.store.secret(scope: scope.description, name: req.name) != nil {
            throw APIError(.conflict, "already_exists", "Secret '\(req.name)' already exists in \(scope).")
        }
        var warnings: [String] = []
        // The masker ignores surrounding whitespace when it measures a value.
        if let bytes, String(decoding: bytes, as: UTF8.self).trimmingWhitespace().utf8.count < minimumMaskedLength {
            warnings.append("The value is shorter than \(minimumMaskedLength) bytes, so it will not be masked in task output; prefer longer secrets.")
        }
        let t = now()
        let kind = req.kind ?? .text
        let record = ManagerStore.SecretRecord(
            id: Identifiers.make(prefix: "s_"), scope: scope.description, name: req.name, kind: kind,
            connectorId: connector.id, envelope: nil, keyVersion: nil, version: 1, usageScopes: usage.map(\.description),
            status: bytes == nil ? "active" : "pending", createdAt: t, updatedAt: t, path: path)
        do { try await self.store.insertSecret(record) } catch let e as StoreError where e.isUniqueViolation {
            // Another request created the same name between our check and the insert.
            throw APIError(.conflict, "already_exists", "Secret '\(req.name)' already exists in \(scope).")
        }
        if let value = req.value {
            let op = store
                ? SecretOperation(
                    kind: .upsert, secretId: record.id, identity: record.identity, connector: connector.ref, path: path, binary: kind == .file)
                : SecretOperation(kind: .encrypt, secretId: record.id, identity: record.identity, connector: connector.ref)
            let task = try await createInternalTask(
                type: store ? "secret.upsert" : "secret.encrypt", operation: op, selectors: try await selectors(of: connector), plaintext: value,
                subject: record.id)
            let done = try await waitForTask(task)
            guard done.status == .succeeded, let sealed = try await self.store.secret(id: record.id), sealed.status == "active" else {
                try await self.store.deleteSecret(id: record.id)
                throw APIError(
                    .badGateway, store ? "store_write_failed" : "encrypt_failed",
                    "No delegate \(store ? "wrote the secret to the store" : "sealed the secret") (task \(task) \(done.status.rawValue): \(done.result?.message ?? done.waitingReason ?? "no result")). Nothing was stored.")
            }
        }
        try await self.store.audit(
            actor: actor, action: "secret.create", target: record.id,
            detail: "\(scope)/\(req.name) via \(connector.name)\(path.map { " at \($0)\(req.value == nil ? " (existing value)" : "")" } ?? "")", now: now())
        guard let created = try await self.store.secret(id: record.id) else {
            throw APIError(.conflict, "secret_deleted", "Secret '\(req.name)' was deleted while it was being created.")
        }
        return created.view(connectorName: connector.name, warnings: warnings.isEmpty ? nil : warnings)
    }

    /// A new value for an existing secret: a delegate seals it (or writes it to the store) as the
    /// secret's next version. Tasks that already hold the old version keep using it.
    public func updateSecretValue(id: String, _ req: UpdateSecretValueRequest, actor: String) async throws -> SecretView {
        guard let s = try await store.secret(id: id), s.status == "active", let connector = try await store.connector(id: s.connectorId) else {
            throw APIError(.notFound, "secret_not_found", "No active secret \(id).")
        }
        guard let bytes = Data(base64Encoded: req.value) else {
            throw APIError(.badRequest, "invalid_field", "'value' must be base64; the CLI encodes it for you (--value-file).")
        }
        guard bytes.count <= 512 << 10 else {
            throw APIError(.contentTooLarge, "payload_too_large", "Secret values are limited to 512 KiB.")
        }
        let identity = WireSecretIdentity(scope: s.scope, name: s.name, version: s.version + 1)
        let store = isSecretStore(connector)
        if store && s.storeVersion == nil {
            throw APIError(
                .conflict, "not_managed",
                "Secret '\(s.name)' refers to a value Legate does not manage (\(s.path ?? "?") in connector '\(connector.name)'); change it in the store itself.")
        }
        let op = store
            ? SecretOperation(kind: .upsert, secretId: s.id, identity: identity, connector: connector.ref, path: s.path, binary: s.kind == .file)
            : SecretOperation(kind: .encrypt, secretId: s.id, identity: identity, connector: connector.ref)
        let task = try await createInternalTask(
            type: store ? "secret.upsert" : "secret.encrypt", operation: op, selectors: try await selectors(of: connector), plaintext: req.value, subject: s.id)
        let done = try await waitForTask(task)
        guard done.status == .succeeded, let updated = try await self.store.secret(id: s.id), updated.version == identity.version else {
            // A delegate that already started the task may still finish after the abort.
            throw APIError(
                .badGateway, "update_failed",
                "No delegate confirmed the new value (task \(task) \(done.status.rawValue): \(done.result?.message ?? done.waitingReason ?? "no result")); the secret keeps version \(s.version) unless a delegate that already started the task still completes it — check `secret list`.")
        }
        try await self.store.audit(actor: actor, action: "secret.update", target: s.id, detail: "\(s.scope)/\(s.name) version \(identity.version)", now: now())
        return updated.view(connectorName: connector.name)
    }

    func validatePath(_ path: String) throws -> String {
        let p = path.trimmingWhitespace()
        guard !p.isEmpty, p.utf8.count <= 512, !p.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\u{7f}" }) else {
            throw APIError(.badRequest, "invalid_field", "'path' must be 1–512 printable characters.")
        }
        return p
    }

    public func secretViews() async throws -> [SecretView] {
        let names = Dictionary(uniqueKeysWithValues: try await store.connectors().map { ($0.id, $0.name) })
        return try await store.secrets().map { $0.view(connectorName: names[$0.connectorId]) }
    }

    public func deleteSecret(id: String, actor: String) async throws {
        guard let s = try await store.secret(id: id) else { throw APIError(.notFound, "secret_not_found", "No secret \(id).") }
        // A value Legate wrote to a secret store goes with the record; one it only referred to stays.
        if let path = s.path, s.storeVersion != nil, let c = try await store.connector(id: s.connectorId) {
            let op = SecretOperation(kind: .delete, secretId: s.id, identity: s.identity, connector: c.ref, path: path)
            let task = try await createInternalTask(type: "secret.delete", operation: op, selectors: try await selectors(of: c), subject: s.id)
            let done = try await waitForTask(task)
            guard done.status == .succeeded else {
                throw APIError(
                    .badGateway, "store_delete_failed",
                    "The value at '\(path)' could not be deleted from connector '\(c.name)' (task \(task) \(done.status.rawValue): \(done.result?.message ?? done.waitingReason ?? "no result")); the secret is kept.")
            }
        }
        try await store.deleteSecret(id: id)
        try await store.audit(actor: actor, action: "secret.delete", target: id, detail: "\(s.scope)/\(s.name)", now: now())
    }

    /// Re-wraps every secret of a connector under its newest key version, one task per secret.
    public func rewrap(_ req: RewrapRequest, actor: String) async throws -> RewrapResponse {
        let connector = try await findConnectorAnywhere(req.connector)
        var tasks: [(String, String)] = []
        guard !isSecretStore(connector) else {
            throw APIError(.badRequest, "not_a_key_manager", "Connector '\(connector.name)' stores values itself; there are no envelopes to re-wrap.")
        }
        for s in try await store.secrets(connectorId: connector.id) where s.status == "active" {
            let op = SecretOperation(kind: .rewrap, secretId: s.id, identity: s.identity, connector: connector.ref, envelope: s.envelope)
            tasks.append((s.id, try await createInternalTask(type: "secret.rewrap", operation: op, selectors: try await selectors(of: connector), subject: s.id)))
        }
        var ok: [String] = []
        var failed: [String: String] = [:]
        for (secretId, taskId) in tasks {
            let v = try await waitForTask(taskId)
            if v.status == .succeeded { ok.append(secretId) } else { failed[secretId] = v.result?.message ?? v.status.rawValue }
        }
        try await store.audit(
            actor: actor, action: "secret.rewrap", target: connector.id, detail: "\(ok.count) re-wrapped, \(failed.count) failed", now: now())
        return RewrapResponse(rewrapped: ok, failed: failed)
    }

    /// Moves a secret to another connector: opened with the old one, sealed with the new one, on a delegate.
    public func migrate(secretId: String, _ req: MigrateRequest, actor: String) async throws -> SecretView {
        guard let s = try await store.secret(id: secretId), s.status == "active", let source = try await store.connector(id: s.connectorId) else {
            throw APIError(.notFound, "secret_not_found", "No active secret \(secretId).")
        }
        let scope = try parseScope(s.scope, what: "secret scope")
        let target = try await findConnector(req.connector, near: scope)
        guard try parseScope(target.scope, what: "connector scope").contains(scope) else {
            throw APIError(.badRequest, "scope_violation", "Secret scope \(scope) is not inside connector '\(target.name)''s scope \(target.scope).")
        }
        guard !isSecretStore(source), !isSecretStore(target) else {
            throw APIError(.badRequest, "not_a_key_manager", "Migration moves envelopes between key-manager connectors; secret-store connectors are not supported.")
        }
        guard target.id != source.id else {
            throw APIError(.badRequest, "invalid_field", "The secret is already stored in connector '\(target.name)'.")
        }
        let op = SecretOperation(
            kind: .migrate, secretId: s.id, identity: s.identity, connector: source.ref, target: target.ref, envelope: s.envelope)
        let task = try await createInternalTask(
            type: "secret.migrate", operation: op, selectors: Selectors.normalize(try await selectors(of: source) + selectors(of: target)), subject: s.id)
        let done = try await waitForTask(task)
        guard done.status == .succeeded, let moved = try await store.secret(id: s.id), moved.connectorId == target.id else {
            throw APIError(.badGateway, "migrate_failed", "Migration failed (task \(task) \(done.status.rawValue): \(done.result?.message ?? "no result")); the secret is unchanged.")
        }
        try await store.audit(actor: actor, action: "secret.migrate", target: s.id, detail: "\(source.name) → \(target.name)", now: now())
        return moved.view(connectorName: target.name)
    }

    /// "Test Connection": a delegate that may use the connector proves it works.
    public func validateConnector(_ idOrName: String, actor: String) async throws -> ValidationView {
        let c = try await findConnectorAnywhere(idOrName)
        let op = SecretOperation(kind: .validate, identity: nil, connector: c.ref)
        let task = try await createInternalTask(type: "connector.validate", operation: op, selectors: try await selectors(of: c), subject: c.id)
        let done = try await waitForTask(task)
        let out = done.result?.output ?? [:]
        try await store.audit(actor: actor, action: "connector.validate", target: c.id, detail: done.status.rawValue, now: now())
        return ValidationView(
            connectorId: c.id, ok: done.status == .succeeded, checks: (out["checks"] ?? "").split(separator: "\n").map(String.init),
            route: out["route"], delegateId: done.delegateId, message: done.result?.message ?? done.waitingReason)
    }

    public func auditTrail() async throws -> [AuditEntry] { try await store.auditTrail() }

    func findConnectorAnywhere(_ idOrName: String) async throws -> ManagerStore.ConnectorRecord {
        if let c = try await store.connector(id: idOrName) { return c }
        let matches = try await store.connectors().filter { $0.name == idOrName }
        guard matches.count == 1, let c = matches.first else {
            throw APIError(
                matches.isEmpty ? .notFound : .conflict, matches.isEmpty ? "connector_not_found" : "ambiguous",
                matches.isEmpty ? "No connector '\(idOrName)'." : "Several connectors are named '\(idOrName)'; use its id.")
        }
        return c
    }

    // MARK: Secret tasks

    func createInternalTask(
        type: String, operation: SecretOperation, selectors: [String], plaintext: String? = nil, subject: String
    ) async throws -> String {
        let t = now()
        let record = ManagerStore.TaskRecord(
            id: Identifiers.make(prefix: "t_"), name: "\(type) \(subject)", type: type, shell: nil, selectors: selectors,
            status: .queued, attempt: 0, maxAttempts: 2, timeoutSeconds: 60, delegateId: nil, history: [],
            abortRequested: false, result: nil, createdAt: t, updatedAt: t, scope: operation.identity?.scope,
            operation: operation, secretRefs: nil)
        if let plaintext { await pendingPlaintext.put(record.id, plaintext) }
        try await store.insertTask(record)
        try await notifyEligible(record)
        return record.id
    }

    /// Waits for an internal task to end; aborts it when nobody took it in time.
    func waitForTask(_ id: String, timeout: Duration = .seconds(30)) async throws -> TaskView {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < timeout {
            let v = try await task(id: id)
            if v.status.isFinal {
                await pendingPlaintext.drop(id)
                return v
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let v = try await abortTask(id: id)
        await pendingPlaintext.drop(id)
        return v
    }

    func operationPackage(for t: ManagerStore.TaskRecord) async throws -> SecretOperation? {
        guard var op = t.operation else { return nil }
        op.connector = try await withCredentials(op.connector)
        if let target = op.target { op.target = try await withCredentials(target) }
        if op.kind == .encrypt || op.kind == .upsert {
            guard let plaintext = await pendingPlaintext.get(t.id) else {
                throw APIError(.gone, "plaintext_gone", "The value for task \(t.id) is no longer held by the manager (it restarted); submit the secret again.")
            }
            op.plaintext = plaintext
        }
        return op
    }

    /// Stores what a secret task produced: an envelope or a store version (never plaintext).
    func applySecretResult(taskId: String, result: TaskResult) async throws {
        guard result.outcome == .succeeded, let t = try await store.task(id: taskId), let op = t.operation,
            let identity = op.identity, let out = result.output
        else { return }
        await pendingPlaintext.drop(taskId)
        // Matched by record id, not by name: a late result of an abandoned task must never land
        // on a secret re-created under the same name, nor an old version over a newer one.
        guard op.kind != .validate, op.kind != .delete, let secretId = op.secretId, let s = try await store.secret(id: secretId),
            s.scope == identity.scope, s.name == identity.name, identity.version >= s.version
        else { return }
        if op.kind == .upsert {
            guard let path = out["path"] ?? op.path else { return }
            try await store.updateSecretStoreValue(id: s.id, path: path, storeVersion: out["storeVersion"] ?? "", version: identity.version, now: now())
            return
        }
        guard let envelope = out["envelope"] else { return }
        let keyVersion = out["keyVersion"].flatMap { Int($0) }
        if identity.version > s.version {
            try await store.updateSecretValue(id: s.id, envelope: envelope, keyVersion: keyVersion, version: identity.version, now: now())
        } else {
            try await store.updateSecretEnvelope(
                id: s.id, envelope: envelope, keyVersion: keyVersion, connectorId: op.kind == .migrate ? op.target?.id : nil, now: now())
        }
    }

    /// A connector's selectors plus those of the built-in connectors holding its credentials: a
    /// delegate must be able to open the credentials too.
    func selectors(of c: ManagerStore.ConnectorRecord) async throws -> [String] {
        var out = c.selectors
        guard !c.credentials.isEmpty, let scope = try? Scope(c.scope) else { return out }
        for expression in c.credentials.values {
            guard let reference = try? parseReference(expression, field: "credentials"),
                let s = try? await lookup(reference, from: scope), let holder = try await store.connector(id: s.connectorId)
            else { continue }
            out += holder.selectors
        }
        return Selectors.normalize(out)
    }

    /// Adds the connector's credentials (built-in envelopes) to a connector reference, read fresh
    /// when a delegate takes the task, so a rotated credential is used at once.
    func withCredentials(_ ref: ConnectorRef) async throws -> ConnectorRef {
        guard let c = try await store.connector(id: ref.id), !c.credentials.isEmpty else { return ref }
        let scope = try parseScope(c.scope, what: "connector scope")
        var materials: [String: SecretMaterial] = [:]
        for (setting, expression) in c.credentials {
            let reference = try parseReference(expression, field: "credentials.\(setting)")
            let s: ManagerStore.SecretRecord
            do { s = try await lookup(reference, from: scope, field: "connector '\(c.name)' credential '\(setting)'") } catch let e as APIError {
                throw APIError(.gone, "credential_gone", e.message)
            }
            guard s.status == "active", let envelope = s.envelope, let holder = try await store.connector(id: s.connectorId), holder.type == "builtin" else {
                throw APIError(
                    .gone, "credential_unavailable",
                    "Credential '\(setting)' of connector '\(c.name)' (secret \(expression)) is not an active built-in secret; recreate it.")
            }
            materials[setting] = SecretMaterial(
                reference: "\(c.name).\(setting)", identity: s.identity, kind: s.kind, connector: holder.ref, envelope: envelope)
        }
        var out = ref
        out.credentials = materials
        return out
    }

    // MARK: Secret references in shell tasks

    /// Resolves every expression of a shell spec against the task's scope, checking the usage
    /// scopes. Returns reference → secret id and the selectors of the connectors involved.
    func resolveSecretReferences(in shell: ShellSpec, taskScope: String?) async throws -> ([String: String], [String]) {
        var texts: [(String, String)] = []
        if let s = shell.script { texts.append(("script", s)) }
        for (i, a) in (shell.command ?? []).enumerated() { texts.append(("command[\(i)]", a)) }
        for (k, v) in shell.env ?? [:] { texts.append(("env.\(k)", v)) }
        var found: [(SecretReference, String)] = []
        for (field, text) in texts {
            do {
                for m in try SecretExpression.find(in: text, field: field) { found.append((m.reference, field)) }
            } catch {
                throw APIError(.badRequest, error.code, error.message)
            }
        }
        guard !found.isEmpty else { return ([:], []) }
        guard let taskScopeText = taskScope else {
            throw APIError(.badRequest, "scope_required", "The task refers to secrets (\(found[0].0)) but has no 'scope'; give the task's account/org/project scope.")
        }
        let scope = try parseScope(taskScopeText, what: "task scope")
        var refs: [String: String] = [:]
        var selectors: [String] = []
        for (reference, field) in found where refs[reference.description] == nil {
            let secret = try await lookup(reference, from: scope, field: field)
            let allowed = try secret.usageScopes.map { try parseScope($0, what: "usage scope") }
            guard allowed.contains(where: { $0.contains(scope) }) else {
                throw APIError(
                    .forbidden, "usage_scope_violation",
                    "Secret '\(reference)' (\(secret.scope)/\(secret.name)) may be used only in \(secret.usageScopes.joined(separator: ", ")); this task's scope is \(scope).")
            }
            guard secret.status == "active" else {
                throw APIError(.conflict, "secret_not_ready", "Secret '\(reference)' is still \(secret.status).")
            }
            refs[reference.description] = secret.id
            if let c = try await store.connector(id: secret.connectorId) { selectors += try await self.selectors(of: c) }
        }
        return (refs, selectors)
    }

    func lookup(_ reference: SecretReference, from scope: Scope, field: String? = nil) async throws -> ManagerStore.SecretRecord {
        let target: Scope
        do { target = try reference.targetScope(from: scope) } catch { throw APIError(.badRequest, error.code, error.message) }
        guard let s = try await store.secret(scope: target.description, name: reference.name) else {
            let hint = reference.level == .same ? " For an org or account secret write org.\(reference.name) or account.\(reference.name)." : ""
            throw APIError(
                .badRequest, "secret_not_found",
                "\(field.map { "\($0): " } ?? "")secret '\(reference)' does not exist in \(target).\(hint)")
        }
        return s
    }

    func secretMaterial(for t: ManagerStore.TaskRecord) async throws -> [SecretMaterial]? {
        guard let refs = t.secretRefs, !refs.isEmpty else { return nil }
        var out: [SecretMaterial] = []
        for (reference, id) in refs.sorted(by: { $0.key < $1.key }) {
            guard let s = try await store.secret(id: id), s.envelope != nil || s.path != nil, let c = try await store.connector(id: s.connectorId) else {
                throw APIError(.gone, "secret_gone", "Secret '\(reference)' used by task \(t.id) was deleted.")
            }
            out.append(
                SecretMaterial(
                    reference: reference, identity: s.identity, kind: s.kind, connector: try await withCredentials(c.ref), envelope: s.envelope,
                    // The store is the source of truth: tasks read its current value, not a pinned version.
                    path: s.envelope == nil ? s.path : nil))
        }
        return out
    }

    // MARK: Input helpers

    func parseScope(_ text: String, what: String) throws -> Scope {
        do { return try Scope(text) } catch { throw APIError(.badRequest, error.code, "\(what): \(error.message)") }
    }

    func parseReference(_ text: String, field: String) throws -> SecretReference {
        do {
            let ms = try SecretExpression.find(in: "<+secrets.getValue(\"\(text)\")>", field: field)
            guard let r = ms.first?.reference else { throw APIError(.badRequest, "invalid_field", "\(field): '\(text)' is not a secret reference.") }
            return r
        } catch let e as SecretExpression.ParseError {
            throw APIError(.badRequest, e.code, e.message)
        }
    }

    func validateName(_ name: String, what: String) throws {
        do { try SecretExpression.validate(name: name) } catch {
            throw APIError(.badRequest, "invalid_field", "\(what) '\(name)': \(error.message)")
        }
    }
}
