import Foundation

/// A secret's identity as bound into its envelope's AAD: moving a record to another scope, name or
/// version makes it fail to open.
public struct WireSecretIdentity: Codable, Sendable, Equatable, Hashable {
    public var scope: String
    public var name: String
    public var version: Int

    public init(scope: String, name: String, version: Int) {
        self.scope = scope
        self.name = name
        self.version = version
    }
}

/// A connector as the agent needs it: type and non-secret settings. Credentials, when a connector
/// type needs them, arrive as ``SecretMaterial`` of the built-in connector, never in `config`;
/// the manager fills them in when it hands out a task, so they are never stored with the task.
public struct ConnectorRef: Codable, Sendable, Equatable {
    public var id: String
    public var type: String
    public var config: [String: String]
    /// Setting name (`accessKeyId`, `secretAccessKey`, `webIdentityToken`, …) → built-in secret.
    public var credentials: [String: SecretMaterial]?

    public init(id: String, type: String, config: [String: String], credentials: [String: SecretMaterial]? = nil) {
        self.id = id
        self.type = type
        self.config = config
        self.credentials = credentials
    }
}

public enum SecretKind: String, Codable, Sendable, Equatable {
    case text
    case file
}

/// A secret a task uses: its envelope (key-manager connectors) or its path in a secret store,
/// and how to open it. The plaintext never travels here.
public struct SecretMaterial: Codable, Sendable, Equatable {
    /// As written in the task (`name`, `org.name`, `account.name`).
    public var reference: String
    public var identity: WireSecretIdentity
    public var kind: SecretKind
    public var connector: ConnectorRef
    /// Base64 of the envelope bytes (docs/envelope.md); key-manager connectors.
    public var envelope: String?
    /// Where a secret-store connector keeps the value.
    public var path: String?
    /// The store's version of the value, when it has versions.
    public var storeVersion: String?

    public init(
        reference: String, identity: WireSecretIdentity, kind: SecretKind, connector: ConnectorRef, envelope: String? = nil,
        path: String? = nil, storeVersion: String? = nil
    ) {
        self.reference = reference
        self.identity = identity
        self.kind = kind
        self.connector = connector
        self.envelope = envelope
        self.path = path
        self.storeVersion = storeVersion
    }
}

/// The work of a `secret.*` or `connector.validate` task.
public struct SecretOperation: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// Seal `plaintext` under `connector`; the result carries the envelope.
        case encrypt
        /// Re-wrap the data key of `envelope` under `connector`'s newest key version.
        case rewrap
        /// Open `envelope` with `connector`, seal it under `target`.
        case migrate
        /// "Test connection": prove the connector works from this delegate.
        case validate
        /// Write `plaintext` to a secret store at `path`; the result carries the store's version.
        case upsert
        /// Delete `path` from a secret store.
        case delete
    }

    public var kind: Kind
    /// The manager's record the result belongs to (the agent does not use it).
    public var secretId: String?
    public var identity: WireSecretIdentity?
    public var connector: ConnectorRef
    public var target: ConnectorRef?
    public var envelope: String?
    /// Base64 plaintext, `encrypt` and `upsert` only. Sent once over TLS; the manager never stores it.
    public var plaintext: String?
    /// Secret-store path, `upsert` and `delete`.
    public var path: String?
    /// Store the value as binary (file secrets), `upsert`.
    public var binary: Bool?

    public init(
        kind: Kind, secretId: String? = nil, identity: WireSecretIdentity?, connector: ConnectorRef, target: ConnectorRef? = nil,
        envelope: String? = nil, plaintext: String? = nil, path: String? = nil, binary: Bool? = nil
    ) {
        self.kind = kind
        self.secretId = secretId
        self.identity = identity
        self.connector = connector
        self.target = target
        self.envelope = envelope
        self.plaintext = plaintext
        self.path = path
        self.binary = binary
    }

    /// Never prints the plaintext.
    public var description: String {
        "SecretOperation(\(kind.rawValue), \(identity.map { "\($0.scope)/\($0.name)@\($0.version)" } ?? "-"), connector: \(connector.id))"
    }
}
