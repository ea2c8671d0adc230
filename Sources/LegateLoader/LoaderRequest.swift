import Foundation
import LegateCrypto

/// What the loader needs beyond the values file: flags and environment (docs/loader.md, "Flags and
/// environment"). Secrets in it (VAULT_TOKEN, the AppRole secret id) stay in ``SecretBytes``.
public struct LoaderRequest: Sendable {
    /// The `<service>` whose `env-secrets` and `file-secrets` are read.
    public var service: String
    /// Kubernetes auth: the service-account token (JWT) file.
    public var serviceAccountTokenFile: String
    /// The auth mount; nil means the method's usual one (`kubernetes`, `approle`).
    public var authMount: String?
    /// The database secrets engine mount for dynamic credentials.
    public var databaseMount: String
    /// Token auth when the values file has no `auth.token`: VAULT_TOKEN.
    public var token: SecretBytes?
    /// AppRole: role_id and (optional) secret_id, from files or VAULT_ROLE_ID / VAULT_SECRET_ID.
    public var roleId: String?
    public var secretId: SecretBytes?
    /// Where the role id and secret id came from, for messages.
    public var appRoleSource: String
    /// A Vault namespace (VAULT_NAMESPACE), for Vault Enterprise and OpenBao namespaces.
    public var namespace: String?
    /// Only these databases (`--database`); nil means every database of the values.
    public var databases: [String]?

    public static let defaultTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

    public init(
        service: String, serviceAccountTokenFile: String = LoaderRequest.defaultTokenFile, authMount: String? = nil, databaseMount: String = "database",
        token: SecretBytes? = nil, roleId: String? = nil, secretId: SecretBytes? = nil, appRoleSource: String = "VAULT_ROLE_ID/VAULT_SECRET_ID",
        namespace: String? = nil, databases: [String]? = nil
    ) {
        self.service = service
        self.serviceAccountTokenFile = serviceAccountTokenFile
        self.authMount = authMount
        self.databaseMount = databaseMount
        self.token = token
        self.roleId = roleId
        self.secretId = secretId
        self.appRoleSource = appRoleSource
        self.namespace = namespace
        self.databases = databases
    }

    /// Checks the service name: it becomes part of a Vault path.
    public static func checkService(_ service: String) throws(LoaderError) {
        let ok = !service.isEmpty && !service.hasPrefix("/") && !service.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == "." || $0 == ".." }
        guard ok else {
            throw .configuration("loader_service", "--service '\(service)' is not a usable path segment; give the service name, e.g. platform-service.")
        }
    }
}
