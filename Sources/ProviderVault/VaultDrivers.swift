import Crypto
import Foundation
import KeyProviders
import LegateCrypto

/// Settings shared by the Vault connector types, parsed once.
struct VaultConnectorSettings {
    var address: String
    var namespace: String?
    var auth: any VaultAuthMethod

    init(_ d: ConnectorDescriptor) throws {
        let allowHTTP = try Self.bool(d, "allowHttp")
        self.address = try VaultClient.validate(address: try d.require("address"), allowHTTP: allowHTTP)
        self.namespace = d.setting("namespace")
        self.auth = try Self.authMethod(d)
    }

    static func authMethod(_ d: ConnectorDescriptor) throws -> any VaultAuthMethod {
        let method = d.setting("authMethod")?.lowercased() ?? (d.credentials["token"] != nil ? "token" : "")
        switch method {
        case "token":
            return TokenAuth(token: try d.requireCredential("token"))
        case "approle":
            return AppRoleAuth(roleId: try d.require("roleId"), secretId: d.credentials["secretId"], mount: d.setting("authMount") ?? "approle")
        case "kubernetes", "k8s":
            return KubernetesAuth(
                role: try d.require("role"), tokenFile: d.setting("serviceAccountTokenFile") ?? KubernetesAuth.defaultTokenFile,
                mount: d.setting("authMount") ?? "kubernetes")
        case "jwt", "oidc":
            let source: JWTAuth.Source
            if let jwt = d.credentials["jwt"], !jwt.isEmpty {
                source = .value(jwt)
            } else if let file = d.setting("jwtFile") {
                source = .file(file)
            } else {
                throw ProviderError.configuration("missing_credential", "Connector \(d.id) uses JWT auth: give the 'jwt' credential or the jwtFile setting.")
            }
            return JWTAuth(role: try d.require("role"), jwt: source, mount: d.setting("authMount") ?? "jwt")
        case "":
            throw ProviderError.configuration(
                "missing_setting", "Connector \(d.id) (vault) needs authMethod (token, approle, kubernetes or jwt) and its credentials.")
        default:
            throw ProviderError.configuration("invalid_setting", "authMethod '\(method)' is not one of token, approle, kubernetes, jwt.")
        }
    }

    static func bool(_ d: ConnectorDescriptor, _ key: String) throws -> Bool {
        switch d.setting(key)?.lowercased() {
        case nil, "false", "no", "off", "0": return false
        case "true", "yes", "on", "1": return true
        case let v?: throw ProviderError.configuration("invalid_setting", "Setting '\(key)' is '\(v)'; use true or false.")
        }
    }

    func client(_ context: ProviderContext, timeout: Duration) -> VaultClient {
        let handler = VaultAuthHandler(method: auth, logger: context.logger)
        let client = VaultClient(address: address, namespace: namespace, transport: context.transport, auth: handler, timeout: timeout)
        return client
    }
}

/// Registers the `vault` connector type: a KV store by default, Transit with `engine: transit`.
public enum VaultDrivers {
    public static let type = "vault"

    public static func register(in registry: inout ProviderRegistry) {
        registry.register(type) { d, ctx in try make(d, context: ctx) }
    }

    static func make(_ d: ConnectorDescriptor, context: ProviderContext) throws -> Connector {
        let settings = try VaultConnectorSettings(d)
        var seconds = 10
        if let t = d.setting("requestTimeoutSeconds") {
            guard let n = Int(t), (1...300).contains(n) else {
                throw ProviderError.configuration("invalid_setting", "Setting 'requestTimeoutSeconds' is '\(t)'; use a whole number in 1–300.")
            }
            seconds = n
        }
        let timeout = Duration.seconds(seconds)
        let client = settings.client(context, timeout: timeout)
        // The handler logs in through the same client, without a token.
        let attach: @Sendable (VaultClient) async -> Void = { c in
            if let auth = c.auth { await auth.attach(c) }
        }
        switch d.setting("engine")?.lowercased() ?? "kv" {
        case "transit":
            let km = VaultTransitKeyManager(
                client: client, mount: d.setting("mount") ?? "transit", keyName: try d.require("keyName"),
                derived: try VaultConnectorSettings.bool(d, "derived"))
            return .keyManager(AttachingKeyManager(base: km, client: client, attach: attach))
        case "kv":
            let version: Int?
            switch d.setting("kvVersion")?.lowercased() {
            case nil, "auto": version = nil
            case "1": version = 1
            case "2": version = 2
            case let v?: throw ProviderError.configuration("invalid_setting", "kvVersion '\(v)' is not one of 1, 2, auto.")
            }
            let store = VaultKVStore(
                client: client, mount: d.setting("mount") ?? "secret", basePath: d.setting("basePath") ?? "", valueKey: d.setting("valueKey") ?? "value",
                version: version, readOnly: try VaultConnectorSettings.bool(d, "readOnly"), checkAndSet: try VaultConnectorSettings.bool(d, "checkAndSet"))
            return .secretStore(AttachingStore(base: store, client: client, attach: attach))
        case let other:
            throw ProviderError.configuration("invalid_setting", "engine '\(other)' is not one of kv, transit.")
        }
    }
}

/// Attaches the auth handler to its client before first use (actors cannot be set up in a
/// synchronous factory) and lets the agent renew tokens on schedule.
struct AttachingStore: SecretStore, MaintainedConnector {
    let base: VaultKVStore
    let client: VaultClient
    let attach: @Sendable (VaultClient) async -> Void

    func ready() async { await attach(client) }
    func get(_ path: String, version: String?) async throws -> SecretBytes {
        await ready()
        return try await base.get(path, version: version)
    }
    func put(_ path: String, value: SecretBytes, options: StoreWriteOptions) async throws -> String? {
        await ready()
        return try await base.put(path, value: value, options: options)
    }
    func delete(_ path: String) async throws {
        await ready()
        try await base.delete(path)
    }
    func validate() async throws -> ValidationReport {
        await ready()
        return try await base.validate()
    }
    func maintain() async { await client.auth?.maintain() }
}

struct AttachingKeyManager: KeyManager, MaintainedConnector {
    let base: VaultTransitKeyManager
    let client: VaultClient
    let attach: @Sendable (VaultClient) async -> Void

    func generateDataKey(for identity: SecretIdentity) async throws -> GeneratedDataKey {
        await attach(client)
        return try await base.generateDataKey(for: identity)
    }
    func unwrapDataKey(_ wrapped: WrappedDataKey, for identity: SecretIdentity) async throws -> SymmetricKey {
        await attach(client)
        return try await base.unwrapDataKey(wrapped, for: identity)
    }
    func rewrapDataKey(_ wrapped: WrappedDataKey, for identity: SecretIdentity) async throws -> WrappedDataKey {
        await attach(client)
        return try await base.rewrapDataKey(wrapped, for: identity)
    }
    func validate() async throws -> ValidationReport {
        await attach(client)
        return try await base.validate()
    }
    func maintain() async { await client.auth?.maintain() }
}
