import Foundation
import KeyProviders
import LegateCrypto

/// A token given by the operator (the connector's `token` credential, VAULT_TOKEN for the loader).
/// "Login" is a lookup-self that learns its TTL and renewability; it cannot log in again, so a
/// renewable token is renewed on schedule and a non-renewable one is used until it expires.
public struct TokenAuth: VaultAuthMethod {
    let token: SecretBytes
    public var description: String { "token" }
    public var canRelogin: Bool { false }

    public init(token: SecretBytes) { self.token = token }

    public func login(_ client: VaultClient, now: Date) async throws -> VaultToken {
        let value = token.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else {
            throw ProviderError.configuration("vault_missing_token", "The Vault token is empty; give the connector's 'token' credential (or VAULT_TOKEN).")
        }
        let probe = VaultToken(value: value, ttl: 0, renewable: false, obtainedAt: now)
        let out: [String: Any]
        do {
            out = try await client.call("GET", "auth/token/lookup-self", body: nil, authenticated: true, what: "token lookup", token: probe)
        } catch let e as ProviderError where e.code == "vault_permission_denied" {
            throw ProviderError.permanent(
                "vault_bad_token", "Vault does not accept the token (lookup-self was denied): it is wrong, expired or revoked. Issue a new token.")
        }
        let data = out["data"] as? [String: Any] ?? [:]
        let ttl = (data["ttl"] as? NSNumber)?.doubleValue ?? 0
        return VaultToken(value: value, ttl: ttl, renewable: (data["renewable"] as? Bool) ?? false, obtainedAt: now)
    }
}
