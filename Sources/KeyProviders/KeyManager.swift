import Crypto
import LegateCrypto

/// A data key wrapped by a key manager, with what is needed to unwrap it again.
public struct WrappedDataKey: Sendable, Equatable {
    public var keyRef: String
    public var keyVersion: UInt32
    public var wrapped: [UInt8]

    public init(keyRef: String, keyVersion: UInt32, wrapped: [UInt8]) {
        self.keyRef = keyRef
        self.keyVersion = keyVersion
        self.wrapped = wrapped
    }
}

/// A fresh 256-bit data key and its wrapped form.
public struct GeneratedDataKey: Sendable {
    public var key: SymmetricKey
    public var wrapped: WrappedDataKey

    public init(key: SymmetricKey, wrapped: WrappedDataKey) {
        self.key = key
        self.wrapped = wrapped
    }
}

/// What `connector.validate` ("Test Connection") reports. Never contains secret material.
public struct ValidationReport: Sendable, Codable, Equatable {
    public var ok: Bool
    /// Human-readable steps that were checked, in order.
    public var checks: [String]
    /// How the driver authenticated (e.g. "access keys", "instance role"), when it matters.
    public var route: String?

    public init(ok: Bool, checks: [String], route: String? = nil) {
        self.ok = ok
        self.checks = checks
        self.route = route
    }
}

/// A key manager for envelope encryption: it never sees secret values, only data keys, and the
/// key-encryption key never leaves it (KMS, Vault Transit, or the delegate's own key file).
/// The identity is passed as encryption context / AAD where the provider supports it.
public protocol KeyManager: Sendable {
    func generateDataKey(for identity: SecretIdentity) async throws -> GeneratedDataKey
    func unwrapDataKey(_ wrapped: WrappedDataKey, for identity: SecretIdentity) async throws -> SymmetricKey
    /// Re-wraps the data key under the newest key version (rotation without touching the value).
    func rewrapDataKey(_ wrapped: WrappedDataKey, for identity: SecretIdentity) async throws -> WrappedDataKey
    func validate() async throws -> ValidationReport
}

/// How a value is written to a secret store.
public struct StoreWriteOptions: Sendable, Equatable {
    /// Store as binary (file secrets) rather than text, where the store distinguishes them.
    public var binary: Bool
    /// Makes a retried write idempotent where the store supports it (e.g. ClientRequestToken);
    /// the agent derives it from the task id and the secret's identity.
    public var idempotencyToken: String?

    public init(binary: Bool = false, idempotencyToken: String? = nil) {
        self.binary = binary
        self.idempotencyToken = idempotencyToken
    }
}

/// A secret store keeps the value itself (Vault KV, Secrets Manager, Key Vault secrets); the
/// manager keeps only a reference (the path).
public protocol SecretStore: Sendable {
    /// Reads the current value (or `version`, when given and the store has versions).
    func get(_ path: String, version: String?) async throws -> SecretBytes
    /// Creates or updates the value. Returns the version the store assigned, when it has versions.
    func put(_ path: String, value: SecretBytes, options: StoreWriteOptions) async throws -> String?
    /// Deletes the value; deleting what does not exist succeeds.
    func delete(_ path: String) async throws
    func validate() async throws -> ValidationReport
}

/// A driver instance with upkeep to do between tasks (renewing a Vault token before its TTL
/// ends); the agent calls ``maintain()`` every few seconds for every live instance.
public protocol MaintainedConnector: Sendable {
    func maintain() async
}
