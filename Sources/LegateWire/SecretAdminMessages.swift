import Foundation

public struct CreateConnectorRequest: Codable, Sendable, Equatable {
    public var name: String
    /// `builtin` (key on the delegates); other types arrive with their drivers.
    public var type: String
    public var scope: String
    public var config: [String: String]?
    /// Delegate tags that must be present to use this connector (where its key or network access is).
    public var selectors: [String]?
    /// Setting → secret reference (`name`, `org.name`, `account.name`) of a built-in secret.
    public var credentials: [String: String]?

    public init(
        name: String, type: String, scope: String, config: [String: String]? = nil, selectors: [String]? = nil,
        credentials: [String: String]? = nil
    ) {
        self.name = name
        self.type = type
        self.scope = scope
        self.config = config
        self.selectors = selectors
        self.credentials = credentials
    }
}

public struct ConnectorView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var type: String
    public var scope: String
    public var config: [String: String]
    public var selectors: [String]
    public var credentials: [String: String]
    public var createdAt: Date

    public init(
        id: String, name: String, type: String, scope: String, config: [String: String], selectors: [String],
        credentials: [String: String], createdAt: Date
    ) {
        self.id = id
        self.name = name
        self.type = type
        self.scope = scope
        self.config = config
        self.selectors = selectors
        self.credentials = credentials
        self.createdAt = createdAt
    }
}

/// `POST /api/v1/admin/secrets`. The value travels once, over TLS, to a delegate that seals it; the
/// manager keeps only the envelope.
public struct CreateSecretRequest: Codable, Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var scope: String
    public var kind: SecretKind?
    /// Connector name in the secret's scope or above; default: the account's `builtin` connector.
    public var connector: String?
    /// Scopes allowed to use the secret (each inside the secret's scope); default: the secret's scope.
    public var usageScopes: [String]?
    /// Base64 of the value. Optional only for a secret-store connector with `path`, which then
    /// refers to a value already in the store.
    public var value: String?
    /// Secret-store connectors: where the value lives (default `<scope>/<name>`).
    public var path: String?

    public init(
        name: String, scope: String, kind: SecretKind? = nil, connector: String? = nil, usageScopes: [String]? = nil, value: String?,
        path: String? = nil
    ) {
        self.name = name
        self.scope = scope
        self.kind = kind
        self.connector = connector
        self.usageScopes = usageScopes
        self.value = value
        self.path = path
    }

    public var description: String { "CreateSecretRequest(\(scope)/\(name), value: <redacted>)" }
}

public struct SecretView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var scope: String
    public var kind: SecretKind
    public var connectorId: String
    public var connectorName: String?
    public var version: Int
    public var keyVersion: Int?
    public var usageScopes: [String]
    /// `pending` until a delegate has sealed it, then `active`.
    public var status: String
    public var createdAt: Date
    public var updatedAt: Date
    public var warnings: [String]?
    /// Secret-store connectors: where the value lives, and the store's version of it.
    public var path: String?
    public var storeVersion: String?

    public init(
        id: String, name: String, scope: String, kind: SecretKind, connectorId: String, connectorName: String?, version: Int,
        keyVersion: Int?, usageScopes: [String], status: String, createdAt: Date, updatedAt: Date, warnings: [String]?,
        path: String? = nil, storeVersion: String? = nil
    ) {
        self.path = path
        self.storeVersion = storeVersion
        self.id = id
        self.name = name
        self.scope = scope
        self.kind = kind
        self.connectorId = connectorId
        self.connectorName = connectorName
        self.version = version
        self.keyVersion = keyVersion
        self.usageScopes = usageScopes
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.warnings = warnings
    }
}

public struct RewrapRequest: Codable, Sendable, Equatable {
    /// Connector id or name whose secrets are re-wrapped under its newest key version.
    public var connector: String
    public init(connector: String) { self.connector = connector }
}

public struct RewrapResponse: Codable, Sendable, Equatable {
    public var rewrapped: [String]
    public var failed: [String: String]
    public init(rewrapped: [String], failed: [String: String]) {
        self.rewrapped = rewrapped
        self.failed = failed
    }
}

public struct MigrateRequest: Codable, Sendable, Equatable {
    /// Target connector id or name.
    public var connector: String
    public init(connector: String) { self.connector = connector }
}

public struct ValidationView: Codable, Sendable, Equatable {
    public var connectorId: String
    public var ok: Bool
    public var checks: [String]
    public var route: String?
    public var delegateId: String?
    public var message: String?

    public init(connectorId: String, ok: Bool, checks: [String], route: String?, delegateId: String?, message: String?) {
        self.connectorId = connectorId
        self.ok = ok
        self.checks = checks
        self.route = route
        self.delegateId = delegateId
        self.message = message
    }
}

/// One audit record: who did what to which secret or connector, when. Never a value.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var seq: Int
    public var at: Date
    public var actor: String
    public var action: String
    public var target: String
    public var detail: String

    public init(seq: Int, at: Date, actor: String, action: String, target: String, detail: String) {
        self.seq = seq
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.detail = detail
    }
}

/// `PUT /api/v1/admin/secrets/{id}/value`: a new value, sealed (or written to the store) by a
/// delegate as the secret's next version.
public struct UpdateSecretValueRequest: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Base64 of the value.
    public var value: String

    public init(value: String) { self.value = value }

    public var description: String { "UpdateSecretValueRequest(value: <redacted>)" }
}
