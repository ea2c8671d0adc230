import Foundation
import KeyProviders
import LegateCrypto

/// AppRole: `role_id` (setting or credential) + `secret_id` (credential) at `auth/<mount>/login`.
public struct AppRoleAuth: VaultAuthMethod {
    let roleId: String
    let secretId: SecretBytes?
    let mount: String
    /// The role id is not shown: it may have been given as a credential.
    public var description: String { "AppRole (auth/\(mount))" }
    public var canRelogin: Bool { true }

    public init(roleId: String, secretId: SecretBytes?, mount: String = "approle") {
        self.roleId = roleId
        self.secretId = secretId
        self.mount = mount
    }

    public func login(_ client: VaultClient, now: Date) async throws -> VaultToken {
        var body: [String: Any] = ["role_id": roleId]
        if let secretId { body["secret_id"] = secretId.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }.trimmingCharacters(in: .whitespacesAndNewlines) }
        do {
            let out = try await client.call("POST", "auth/\(mount)/login", body: body, authenticated: false, what: "AppRole login at auth/\(mount)")
            return try VaultToken.fromAuth(out, now: now, what: "AppRole login")
        } catch let e as ProviderError where e.code == "vault_invalid_request" || e.code == "vault_permission_denied" {
            throw ProviderError.permanent(
                "vault_bad_auth", "AppRole login at auth/\(mount) failed: \(e.message) Check the role id and secret id (a secret id may have expired or been used up).")
        }
    }
}
