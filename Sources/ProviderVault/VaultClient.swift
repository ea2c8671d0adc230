import Foundation
import KeyProviders
import LegateCore

/// One HTTP client for the Vault API (also OpenBao): `X-Vault-Token`, `X-Vault-Namespace`, the
/// `{"errors": [...]}` error shape, and status codes mapped to operator-worded
/// ``ProviderError``s. Authentication is delegated to a ``VaultAuthHandler``; a 403 on an
/// authenticated call makes it log in again once before the error is reported.
public struct VaultClient: Sendable {
    public let address: String
    public let namespace: String?
    let transport: any HTTPTransport
    var auth: VaultAuthHandler?
    /// A token to use instead of the handler's (logins, renewals, lookups).
    var fixedToken: VaultToken?
    let timeout: Duration

    public init(address: String, namespace: String?, transport: any HTTPTransport, auth: VaultAuthHandler?, timeout: Duration = .seconds(10)) {
        var a = address
        while a.hasSuffix("/") { a.removeLast() }
        self.address = a
        self.namespace = namespace.flatMap { $0.isEmpty ? nil : $0 }
        self.transport = transport
        self.auth = auth
        self.timeout = timeout
    }

    /// Checks a Vault address: https, or http to loopback unless `allowHTTP` (tokens would travel
    /// in clear text).
    public static func validate(address: String, allowHTTP: Bool) throws -> String {
        guard let u = URLComponents(string: address), let scheme = u.scheme?.lowercased(), let host = u.host, !host.isEmpty else {
            throw ProviderError.configuration("invalid_vault_address", "Vault address '\(address)' is not a URL; expected https://host:8200.")
        }
        let loopback = Loopback.isLoopback(host: host)
        guard scheme == "https" || (scheme == "http" && (loopback || allowHTTP)) else {
            throw ProviderError.configuration(
                "insecure_vault_address",
                "Vault address '\(address)' uses http to a remote host: the token would travel unencrypted. Use https, or set allowHttp: true if the network is trusted.")
        }
        return address
    }

    /// A call with the current token (unless `authenticated` is false). Returns the JSON object,
    /// or an empty one for 204.
    @discardableResult
    public func call(_ method: String, _ path: String, body: [String: Any]? = nil, authenticated: Bool = true, what: String) async throws
        -> [String: Any]
    {
        for attempt in 0..<2 {
            var headers: [(String, String)] = [("Accept", "application/json")]
            if let namespace { headers.append(("X-Vault-Namespace", namespace)) }
            var token: VaultToken?
            if authenticated {
                if let fixedToken {
                    token = fixedToken
                } else if let auth {
                    token = try await auth.token()
                }
                if let token { headers.append(("X-Vault-Token", token.value.unsafeValue)) }
            }
            var payload: [UInt8] = []
            if let body {
                do { payload = Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) } catch {
                    throw ProviderError.configuration("vault_encoding", "Could not encode the request for \(what): \(error)")
                }
                headers.append(("Content-Type", "application/json"))
            }
            let url = address + "/v1/" + (path.hasPrefix("/") ? String(path.dropFirst()) : path)
            let response: ProviderHTTPResponse
            do {
                response = try await transport.send(ProviderHTTPRequest(method: method, url: url, headers: headers, body: payload), timeout: timeout)
            } catch let e as ProviderError where e.persistence == .transient {
                throw ProviderError.transient(
                    "vault_unreachable", "Cannot reach Vault at \(address) for \(what): \(e.message) Check that Vault is running and the address is right.")
            }
            if (200..<300).contains(response.status) {
                if response.body.isEmpty { return [:] }
                guard let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
                    throw ProviderError.transient("vault_bad_response", "Vault answered \(what) with a body that is not JSON.")
                }
                return object
            }
            // A revoked or expired token: log in again once (not for token auth's own token).
            if response.status == 403, authenticated, fixedToken == nil, attempt == 0, let auth, let token, await auth.invalidate(token) {
                continue
            }
            throw VaultError.parse(status: response.status, body: response.body)
                .providerError(what: what, address: address, namespace: namespace, login: !authenticated)
        }
        throw ProviderError.permanent("vault_permission_denied", "Vault denied \(what) after a fresh login.")
    }
}

/// An error answer from Vault.
struct VaultError {
    var status: Int
    var messages: [String]

    static func parse(status: Int, body: [UInt8]) -> VaultError {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let errors = (object?["errors"] as? [Any])?.compactMap { $0 as? String } ?? []
        return VaultError(status: status, messages: errors.map { String($0.prefix(300)) })
    }

    /// `login`: an unauthenticated call (a login), whose denial is about credentials, not policy.
    func providerError(what: String, address: String, namespace: String?, login: Bool = false) -> ProviderError {
        let detail = messages.isEmpty ? "HTTP \(status)" : messages.joined(separator: "; ")
        let ns = namespace.map { " (namespace \($0))" } ?? ""
        switch status {
        case 400 where messages.contains { $0.contains("check-and-set") }:
            return .transient("vault_cas_conflict", "Another writer changed \(what)\(ns) at the same time (check-and-set); retrying with the new version.")
        case 400:
            return .configuration("vault_invalid_request", "Vault rejected \(what)\(ns) as invalid: \(detail). Check the connector's settings.")
        case 401, 403:
            if login { return .permanent("vault_permission_denied", "Vault denied \(what)\(ns): \(detail).") }
            return .permanent(
                "vault_permission_denied",
                "Vault denied \(what)\(ns): \(detail). Check that the policy of the token or auth role grants this path (KV v2 needs read on <mount>/data/... and list on <mount>/metadata/...).")
        case 404:
            return .permanent("vault_not_found", "Vault has nothing at \(what)\(ns). Check the mount (engine), base path and name.")
        case 405:
            return .configuration("vault_unsupported", "Vault does not support \(what)\(ns) (HTTP 405): check the mount type and KV version.")
        case 412:
            return .transient("vault_precondition", "Vault refused \(what)\(ns) (HTTP 412, not yet consistent): \(detail); retrying.")
        case 429:
            return .transient("vault_rate_limited", "Vault rate-limited \(what)\(ns): \(detail); retrying with backoff.")
        case 503:
            return .transient("vault_unavailable", "Vault at \(address) is sealed or in maintenance (HTTP 503) for \(what): \(detail); retrying.")
        case 500...:
            return .transient("vault_error", "Vault failed \(what)\(ns) with HTTP \(status): \(detail); retrying.")
        default:
            return .permanent("vault_error", "Vault answered \(what)\(ns) with HTTP \(status): \(detail).")
        }
    }
}
