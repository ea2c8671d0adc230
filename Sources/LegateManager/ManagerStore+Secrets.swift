import Foundation
import LegateCore
import LegateWire
import SQLiteNIO

extension ManagerStore {
    public struct ConnectorRecord: Sendable, Equatable {
        public var id: String
        public var name: String
        public var type: String
        public var scope: String
        public var config: [String: String]
        public var selectors: [String]
        /// Setting name → secret reference (built-in secrets only).
        public var credentials: [String: String]
        public var createdAt: Date

        public var ref: ConnectorRef { ConnectorRef(id: id, type: type, config: config) }
        public var view: ConnectorView {
            ConnectorView(
                id: id, name: name, type: type, scope: scope, config: config, selectors: selectors, credentials: credentials,
                createdAt: createdAt)
        }
    }

    public struct SecretRecord: Sendable, Equatable {
        public var id: String
        public var scope: String
        public var name: String
        public var kind: SecretKind
        public var connectorId: String
        public var envelope: String?
        public var keyVersion: Int?
        public var version: Int
        public var usageScopes: [String]
        public var status: String
        public var createdAt: Date
        public var updatedAt: Date
        /// Secret-store connectors: where the value lives and the store's version of it.
        public var path: String? = nil
        public var storeVersion: String? = nil

        public var identity: WireSecretIdentity { WireSecretIdentity(scope: scope, name: name, version: version) }
        public func view(connectorName: String?, warnings: [String]? = nil) -> SecretView {
            SecretView(
                id: id, name: name, scope: scope, kind: kind, connectorId: connectorId, connectorName: connectorName,
                version: version, keyVersion: keyVersion, usageScopes: usageScopes, status: status, createdAt: createdAt,
                updatedAt: updatedAt, warnings: warnings, path: path, storeVersion: storeVersion)
        }
    }

    // MARK: Connectors

    public func insertConnector(_ c: ConnectorRecord) async throws {
        try await run(
            "INSERT INTO connectors (id, name, type, scope, config, selectors, credentials, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [.text(c.id), .text(c.name), .text(c.type), .text(c.scope), Self.json(c.config), Self.json(c.selectors),
             Self.json(c.credentials), Self.ms(c.createdAt)])
    }

    public func connector(id: String) async throws -> ConnectorRecord? {
        try await rows("SELECT * FROM connectors WHERE id = ?", [.text(id)]).first.map(Self.connectorRecord)
    }

    public func connector(scope: String, name: String) async throws -> ConnectorRecord? {
        try await rows("SELECT * FROM connectors WHERE scope = ? AND name = ?", [.text(scope), .text(name)]).first.map(Self.connectorRecord)
    }

    public func connectors() async throws -> [ConnectorRecord] {
        try await rows("SELECT * FROM connectors ORDER BY scope, name").map(Self.connectorRecord)
    }

    static func connectorRecord(_ r: SQLiteRow) -> ConnectorRecord {
        ConnectorRecord(
            id: r.column("id")?.string ?? "", name: r.column("name")?.string ?? "", type: r.column("type")?.string ?? "",
            scope: r.column("scope")?.string ?? "", config: decode([String: String].self, r.column("config")) ?? [:],
            selectors: decode([String].self, r.column("selectors")) ?? [],
            credentials: decode([String: String].self, r.column("credentials")) ?? [:],
            createdAt: date(r.column("created_at")))
    }

    // MARK: Secrets

    public func insertSecret(_ s: SecretRecord) async throws {
        try await run(
            """
            INSERT INTO secrets (id, scope, name, kind, connector_id, envelope, key_version, version, usage_scopes, status,
              created_at, updated_at, path, store_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(s.id), .text(s.scope), .text(s.name), .text(s.kind.rawValue), .text(s.connectorId),
             s.envelope.map { .text($0) } ?? .null, s.keyVersion.map { .integer($0) } ?? .null, .integer(s.version),
             Self.json(s.usageScopes), .text(s.status), Self.ms(s.createdAt), Self.ms(s.updatedAt),
             s.path.map { .text($0) } ?? .null, s.storeVersion.map { .text($0) } ?? .null])
    }

    /// Records a value written to a secret store (after upsert): its path, the store's version and
    /// the secret's own version.
    public func updateSecretStoreValue(id: String, path: String, storeVersion: String?, version: Int, now: Date) async throws {
        try await run(
            "UPDATE secrets SET path = ?, store_version = ?, version = ?, status = 'active', updated_at = ? WHERE id = ?",
            [.text(path), storeVersion.map { .text($0) } ?? .null, .integer(version), Self.ms(now), .text(id)])
    }

    /// A new envelope for the secret's next version (value updated).
    public func updateSecretValue(id: String, envelope: String, keyVersion: Int?, version: Int, now: Date) async throws {
        try await run(
            "UPDATE secrets SET envelope = ?, key_version = ?, version = ?, status = 'active', updated_at = ? WHERE id = ?",
            [.text(envelope), keyVersion.map { .integer($0) } ?? .null, .integer(version), Self.ms(now), .text(id)])
    }

    /// Stores a new envelope (after encrypt, rewrap or migrate) and optionally a new connector.
    public func updateSecretEnvelope(id: String, envelope: String, keyVersion: Int?, connectorId: String?, now: Date) async throws {
        try await run(
            "UPDATE secrets SET envelope = ?, key_version = ?, connector_id = COALESCE(?, connector_id), status = 'active', updated_at = ? WHERE id = ?",
            [.text(envelope), keyVersion.map { .integer($0) } ?? .null, connectorId.map { .text($0) } ?? .null, Self.ms(now), .text(id)])
    }

    /// Secrets whose value never got sealed (their plaintext lived in a previous manager process).
    public func purgePendingSecrets() async throws -> Int {
        let n = try await rows("SELECT COUNT(*) AS n FROM secrets WHERE status = 'pending'").first?.column("n")?.integer ?? 0
        try await run("DELETE FROM secrets WHERE status = 'pending'")
        return Int(n)
    }

    public func deleteSecret(id: String) async throws {
        try await run("DELETE FROM secrets WHERE id = ?", [.text(id)])
    }

    public func secret(id: String) async throws -> SecretRecord? {
        try await rows("SELECT * FROM secrets WHERE id = ?", [.text(id)]).first.map(Self.secretRecord)
    }

    public func secret(scope: String, name: String) async throws -> SecretRecord? {
        try await rows("SELECT * FROM secrets WHERE scope = ? AND name = ?", [.text(scope), .text(name)]).first.map(Self.secretRecord)
    }

    public func secrets(connectorId: String? = nil) async throws -> [SecretRecord] {
        if let connectorId {
            return try await rows("SELECT * FROM secrets WHERE connector_id = ? ORDER BY scope, name", [.text(connectorId)]).map(Self.secretRecord)
        }
        return try await rows("SELECT * FROM secrets ORDER BY scope, name").map(Self.secretRecord)
    }

    static func secretRecord(_ r: SQLiteRow) -> SecretRecord {
        SecretRecord(
            id: r.column("id")?.string ?? "", scope: r.column("scope")?.string ?? "", name: r.column("name")?.string ?? "",
            kind: SecretKind(rawValue: r.column("kind")?.string ?? "") ?? .text, connectorId: r.column("connector_id")?.string ?? "",
            envelope: r.column("envelope")?.string, keyVersion: r.column("key_version")?.integer.map { Int($0) },
            version: Int(r.column("version")?.integer ?? 1), usageScopes: decode([String].self, r.column("usage_scopes")) ?? [],
            status: r.column("status")?.string ?? "", createdAt: date(r.column("created_at")),
            updatedAt: date(r.column("updated_at")), path: r.column("path")?.string, storeVersion: r.column("store_version")?.string)
    }

    // MARK: Counts

    /// Number of tasks in `status`, without loading them.
    public func countTasks(status: TaskStatus) async throws -> Int {
        Int(try await rows("SELECT COUNT(*) AS n FROM tasks WHERE status = ?", [.text(status.rawValue)]).first?.column("n")?.integer ?? 0)
    }

    // MARK: Audit

    public func audit(actor: String, action: String, target: String, detail: String, now: Date) async throws {
        try await run(
            "INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            [Self.ms(now), .text(actor), .text(action), .text(target), .text(detail)])
    }

    public func auditTrail(limit: Int = 1000) async throws -> [AuditEntry] {
        try await rows("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", [.integer(limit)]).map { r in
            AuditEntry(
                seq: Int(r.column("seq")?.integer ?? 0), at: Self.date(r.column("at")),
                actor: r.column("actor")?.string ?? "", action: r.column("action")?.string ?? "",
                target: r.column("target")?.string ?? "", detail: r.column("detail")?.string ?? "")
        }
    }

}
