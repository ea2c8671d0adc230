import Crypto
import LegateCore
import LegateCrypto

/// The built-in connector: data keys are wrapped with AES-256-GCM under a key-encryption key that
/// lives on the delegate (``Keyring``), never on the manager. Connector setting: `keyRef`.
public struct BuiltinKeyManager: KeyManager {
    public static let type = "builtin"
    let keyring: Keyring

    public init(keyring: Keyring) { self.keyring = keyring }

    public init(_ d: ConnectorDescriptor, context: ProviderContext) throws {
        self.keyring = try Keyring(stateDirectory: context.stateDirectory, keyRef: d.config["keyRef"] ?? "default")
    }

    /// Registers the built-in connector type.
    public static func register(in registry: inout ProviderRegistry) {
        registry.register(type) { d, ctx in .keyManager(try BuiltinKeyManager(d, context: ctx)) }
    }

    public func generateDataKey(for identity: SecretIdentity) async throws -> GeneratedDataKey {
        let (version, kek) = try keyring.newest()
        let key = DataKey.generate()
        let wrapped = try KeyWrapper(keyEncryptionKey: SymmetricKey(data: kek))
            .wrap(key, identity: identity, keyRef: keyring.keyRef, keyVersion: version)
        return GeneratedDataKey(key: key, wrapped: WrappedDataKey(keyRef: keyring.keyRef, keyVersion: version, wrapped: wrapped))
    }

    public func unwrapDataKey(_ w: WrappedDataKey, for identity: SecretIdentity) async throws -> SymmetricKey {
        guard w.keyRef == keyring.keyRef else {
            throw ProviderError.configuration(
                "key_ref_mismatch", "The envelope was sealed with built-in key '\(w.keyRef)', but this connector uses '\(keyring.keyRef)'.")
        }
        let kek = try keyring.key(version: w.keyVersion)
        return try KeyWrapper(keyEncryptionKey: SymmetricKey(data: kek))
            .unwrap(w.wrapped, identity: identity, keyRef: w.keyRef, keyVersion: w.keyVersion)
    }

    public func rewrapDataKey(_ w: WrappedDataKey, for identity: SecretIdentity) async throws -> WrappedDataKey {
        let key = try await unwrapDataKey(w, for: identity)
        let (version, kek) = try keyring.newest()
        if version == w.keyVersion { return w }
        let wrapped = try KeyWrapper(keyEncryptionKey: SymmetricKey(data: kek))
            .wrap(key, identity: identity, keyRef: keyring.keyRef, keyVersion: version)
        return WrappedDataKey(keyRef: keyring.keyRef, keyVersion: version, wrapped: wrapped)
    }

    public func validate() async throws -> ValidationReport {
        let probe = SecretIdentity(scope: "validate", name: "probe", version: 1)
        let generated = try await generateDataKey(for: probe)
        let back = try await unwrapDataKey(generated.wrapped, for: probe)
        guard back == generated.key else {
            throw ProviderError.configuration("key_roundtrip_failed", "Wrapping a data key under built-in key '\(keyring.keyRef)' did not round-trip.")
        }
        return ValidationReport(
            ok: true,
            checks: [
                "key '\(keyring.keyRef)' versions on this delegate: \(keyring.versions().map(String.init).joined(separator: ", "))",
                "data key wrap/unwrap round trip with version \(generated.wrapped.keyVersion): ok",
            ],
            route: "delegate key file")
    }
}
