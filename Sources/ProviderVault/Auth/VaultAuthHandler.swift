import Foundation
import KeyProviders
import LegateCore
import Logging

/// A Vault token and what is known about its lifetime.
public struct VaultToken: Sendable, Equatable {
    public var value: Redacted<String>
    /// Seconds the token lives from `obtainedAt`; 0 = no expiry (root tokens).
    public var ttl: TimeInterval
    public var renewable: Bool
    public var obtainedAt: Date

    public init(value: String, ttl: TimeInterval, renewable: Bool, obtainedAt: Date) {
        self.value = Redacted(value)
        self.ttl = ttl
        self.renewable = renewable
        self.obtainedAt = obtainedAt
    }

    public var expiresAt: Date? { ttl > 0 ? obtainedAt.addingTimeInterval(ttl) : nil }

    /// Parses the `auth` block of a login or renew answer.
    static func fromAuth(_ o: [String: Any], now: Date, what: String) throws -> VaultToken {
        guard let auth = o["auth"] as? [String: Any], let token = auth["client_token"] as? String, !token.isEmpty else {
            throw ProviderError.transient("vault_bad_response", "Vault answered \(what) without a client token.")
        }
        let ttl = (auth["lease_duration"] as? NSNumber)?.doubleValue ?? 0
        return VaultToken(value: token, ttl: ttl, renewable: (auth["renewable"] as? Bool) ?? false, obtainedAt: now)
    }
}

/// One way of obtaining a Vault token (token, AppRole, Kubernetes, JWT/OIDC): one file each.
public protocol VaultAuthMethod: Sendable {
    /// For messages and reports, e.g. "AppRole (role id …)".
    var description: String { get }
    /// Logs in (or, for a given token, looks it up) and returns the token with its lifetime.
    func login(_ client: VaultClient, now: Date) async throws -> VaultToken
    /// Whether a failed token can be replaced by logging in again (not for a static token).
    var canRelogin: Bool { get }
}

/// Owns the connector's Vault token: logs in on first use, renews it when two thirds of its TTL
/// have passed (or logs in again when it cannot be renewed) and logs in again after a 403. Backoff
/// on an unreachable Vault is the caller's (the agent's RetryPolicy). ``maintain()`` does the renewal on a schedule, so a token stays
/// valid in a long-running agent even when no task uses it for longer than its TTL.
public actor VaultAuthHandler {
    let method: any VaultAuthMethod
    let now: @Sendable () -> Date
    let logger: Logger?
    private var current: VaultToken?
    private var client: VaultClient?
    private var loggingIn = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(method: any VaultAuthMethod, logger: Logger? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        self.method = method
        self.logger = logger
        self.now = now
    }

    /// The unauthenticated client used to log in and renew; set once by the connector (or the
    /// secrets loader) before the first ``token()``.
    public func attach(_ client: VaultClient) {
        guard self.client == nil else { return }
        // Without the handler: logins are unauthenticated and renewals carry their own token,
        // and the handler must not hold itself through the client.
        var c = client
        c.auth = nil
        self.client = c
    }

    public var methodDescription: String { method.description }

    /// A token that is valid now, logging in or renewing first when needed.
    public func token() async throws -> VaultToken {
        while true {
            if let t = current, !needsRefresh(t) { return t }
            if loggingIn {
                await withCheckedContinuation { waiters.append($0) }
                continue
            }
            return try await refresh()
        }
    }

    /// Called after Vault answered 403 with `token`: forget it so the next call logs in again.
    /// Returns whether a retry can help.
    func invalidate(_ token: VaultToken) -> Bool {
        guard method.canRelogin else { return false }
        if current?.value == token.value { current = nil }
        return true
    }

    /// Renews ahead of time; call periodically (the agent does, every few seconds).
    public func maintain() async {
        guard let t = current, needsRefresh(t) else { return }
        do { _ = try await token() } catch {
            logger?.warning("Vault token renewal failed; will retry", metadata: ["auth": "\(method.description)", "error": "\(error)"])
        }
    }

    func needsRefresh(_ t: VaultToken) -> Bool {
        guard let expires = t.expiresAt else { return false }
        return now() >= t.obtainedAt.addingTimeInterval(t.ttl * 2 / 3) || now() >= expires
    }

    private func refresh() async throws -> VaultToken {
        guard let client else {
            throw ProviderError.configuration("vault_not_attached", "The Vault auth handler has no client.")
        }
        loggingIn = true
        defer {
            loggingIn = false
            let w = waiters
            waiters = []
            for c in w { c.resume() }
        }
        // Renew while we can; otherwise (or when renewal fails) log in again.
        if let t = current, t.renewable, let expires = t.expiresAt, expires > now() {
            do {
                return try await renew(t, client: client)
            } catch {
                logger?.notice(
                    method.canRelogin ? "Vault token renewal failed; logging in again" : "Vault token renewal failed; using the token until it expires",
                    metadata: ["error": "\(error)"])
                if !method.canRelogin, let expires = t.expiresAt, expires > now() { return t }
            }
        }
        var fresh = try await method.login(client, now: now())
        // A given token may be close to the end of its TTL: renew it at once to its full period.
        if !method.canRelogin, fresh.renewable, fresh.expiresAt != nil {
            fresh = (try? await renew(fresh, client: client)) ?? fresh
        }
        current = fresh
        return fresh
    }

    private func renew(_ t: VaultToken, client: VaultClient) async throws -> VaultToken {
        let out = try await client.call("POST", "auth/token/renew-self", body: [:], authenticated: false, what: "token renewal", token: t)
        let renewed = try VaultToken.fromAuth(out, now: now(), what: "token renewal")
        return renewed
    }
}

extension VaultClient {
    /// A call made with an explicit token (login handlers, renewal), bypassing the handler.
    @discardableResult
    func call(_ method: String, _ path: String, body: [String: Any]?, authenticated: Bool, what: String, token: VaultToken) async throws
        -> [String: Any]
    {
        var c = self
        c.fixedToken = token
        return try await c.call(method, path, body: body, authenticated: true, what: what)
    }
}

extension VaultAuthMethod {
    /// The login shared by the JWT-based methods (Kubernetes, JWT/OIDC): POST role + jwt to
    /// `auth/<mount>/login`; a refusal names the method, role and what to check.
    func roleLogin(_ client: VaultClient, mount: String, role: String, jwt: String, kind: String, check: String, now: Date) async throws
        -> VaultToken
    {
        do {
            let out = try await client.call(
                "POST", "auth/\(mount)/login", body: ["role": role, "jwt": jwt], authenticated: false, what: "\(kind) login at auth/\(mount)")
            return try VaultToken.fromAuth(out, now: now, what: "\(kind) login")
        } catch let e as ProviderError where e.code == "vault_invalid_request" || e.code == "vault_permission_denied" {
            throw ProviderError.permanent("vault_bad_auth", "\(kind) login at auth/\(mount) failed for role '\(role)': \(e.message) \(check)")
        }
    }
}
