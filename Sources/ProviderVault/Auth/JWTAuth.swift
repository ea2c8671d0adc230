import Foundation
import KeyProviders
import LegateCrypto

/// JWT/OIDC: a role and a JWT (credential, or a file re-read on every login) at
/// `auth/<mount>/login`; Vault validates it against the configured keys or OIDC discovery.
public struct JWTAuth: VaultAuthMethod {
    public enum Source: Sendable {
        case value(SecretBytes)
        case file(String)
    }

    let role: String
    let jwt: Source
    let mount: String
    public var description: String { "JWT (auth/\(mount), role \(role))" }
    public var canRelogin: Bool { true }

    public init(role: String, jwt: Source, mount: String = "jwt") {
        self.role = role
        self.jwt = jwt
        self.mount = mount
    }

    public func login(_ client: VaultClient, now: Date) async throws -> VaultToken {
        let token: String
        switch jwt {
        case .value(let v): token = v.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }.trimmingCharacters(in: .whitespacesAndNewlines)
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ProviderError.configuration("vault_jwt_file", "Cannot read the JWT file '\(path)'.")
            }
            token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return try await roleLogin(
            client, mount: mount, role: role, jwt: token, kind: "JWT",
            check: "Check the token's issuer, audience and signature keys, and the role's bound claims.", now: now)
    }
}
