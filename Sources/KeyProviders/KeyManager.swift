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

/// A secret store keeps the value itself (Vault KV, Secrets Manager, Key Vault secrets); the
/// manager keeps only a reference.
public protocol SecretStore: Sendable {
    func get(_ path: String) async throws -> SecretBytes
    /// Returns the version the store assigned, when it has versions.
    func put(_ path: String, value: SecretBytes) async throws -> String?
    func delete(_ path: String) async throws
    func validate() async throws -> ValidationReport
}
