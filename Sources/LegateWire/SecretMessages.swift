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
/// type needs them, arrive as ``SecretMaterial`` of the built-in connector, never in `config`.
public struct ConnectorRef: Codable, Sendable, Equatable {
    public var id: String
    public var type: String
    public var config: [String: String]

    public init(id: String, type: String, config: [String: String]) {
        self.id = id
        self.type = type
        self.config = config
    }
}

public enum SecretKind: String, Codable, Sendable, Equatable {
    case text
    case file
}

/// A secret a task uses: its envelope and how to open it. The plaintext never travels here.
public struct SecretMaterial: Codable, Sendable, Equatable {
    /// As written in the task (`name`, `org.name`, `account.name`).
    public var reference: String
    public var identity: WireSecretIdentity
    public var kind: SecretKind
    public var connector: ConnectorRef
    /// Base64 of the envelope bytes (docs/envelope.md).
    public var envelope: String

    public init(reference: String, identity: WireSecretIdentity, kind: SecretKind, connector: ConnectorRef, envelope: String) {
        self.reference = reference
        self.identity = identity
        self.kind = kind
        self.connector = connector
        self.envelope = envelope
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
    }

    public var kind: Kind
    /// The manager's record the result belongs to (the agent does not use it).
    public var secretId: String?
    public var identity: WireSecretIdentity?
    public var connector: ConnectorRef
    public var target: ConnectorRef?
    public var envelope: String?
    /// Base64 plaintext, `encrypt` only. Sent once over TLS; the manager never stores it.
    public var plaintext: String?

    public init(
        kind: Kind, secretId: String? = nil, identity: WireSecretIdentity?, connector: ConnectorRef, target: ConnectorRef? = nil,
        envelope: String? = nil, plaintext: String? = nil
    ) {
        self.kind = kind
        self.secretId = secretId
        self.identity = identity
        self.connector = connector
        self.target = target
        self.envelope = envelope
        self.plaintext = plaintext
    }

    /// Never prints the plaintext.
    public var description: String {
        "SecretOperation(\(kind.rawValue), \(identity.map { "\($0.scope)/\($0.name)@\($0.version)" } ?? "-"), connector: \(connector.id))"
    }
}
