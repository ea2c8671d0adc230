import Foundation
import KeyProviders
import Logging

/// Caches temporary credentials and refreshes them once, shortly before they expire. Concurrent
/// callers during a refresh wait for that one refresh instead of each starting their own.
/// Expired credentials are never served: if a refresh fails after expiry, the error is thrown;
/// if it fails before expiry, the still-valid credentials are used and the next call tries again.
public actor CachingCredentialProvider: AWSCredentialProvider {
    let base: any AWSCredentialProvider
    /// Refresh when less than this is left (capped at a quarter of the credentials' lifetime).
    let refreshMargin: TimeInterval
    let now: @Sendable () -> Date
    let logger: Logger?
    private var cached: AWSCredentials?
    private var fetchedAt: Date?
    private var refreshing = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    public nonisolated var route: String { base.route }
    public var activeRoute: String { get async { await base.activeRoute } }

    public init(
        _ base: any AWSCredentialProvider, refreshMargin: TimeInterval = 300, logger: Logger? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.base = base
        self.refreshMargin = refreshMargin
        self.now = now
        self.logger = logger
    }

    public func credentials() async throws -> AWSCredentials {
        while true {
            if let c = cached, !needsRefresh(c) { return c }
            if refreshing {
                // Another caller is fetching; wait for it and look again.
                await withCheckedContinuation { waiters.append($0) }
                continue
            }
            return try await fetch()
        }
    }

    public func refresh() async throws -> AWSCredentials {
        cached = nil
        return try await credentials()
    }

    private func needsRefresh(_ c: AWSCredentials) -> Bool {
        guard let expiration = c.expiration else { return false }
        let t = now()
        let lifetime = expiration.timeIntervalSince(fetchedAt ?? t)
        let margin = min(refreshMargin, max(lifetime / 4, 1))
        return expiration.timeIntervalSince(t) <= margin
    }

    private func fetch() async throws -> AWSCredentials {
        refreshing = true
        defer {
            refreshing = false
            let w = waiters
            waiters = []
            for c in w { c.resume() }
        }
        do {
            let fresh = try await base.refresh()
            if let exp = fresh.expiration, exp <= now() {
                throw ProviderError.transient(
                    "aws_expired_credentials", "\(base.route) returned credentials that already expired at \(exp); check the delegate's clock.")
            }
            cached = fresh
            fetchedAt = now()
            return fresh
        } catch {
            if let c = cached, let exp = c.expiration, exp > now() {
                logger?.warning("refreshing AWS credentials failed; using the current ones until they expire", metadata: ["route": "\(base.route)", "error": "\(error)"])
                return c
            }
            cached = nil
            throw error
        }
    }
}
