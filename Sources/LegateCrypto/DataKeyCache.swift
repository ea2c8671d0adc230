import Crypto

/// A small, bounded cache of unwrapped data keys, so reading the same secret repeatedly does not
/// cost a KMS call each time.
///
/// - Entries are keyed by everything that identifies a wrapped key: connector, key reference,
///   key version and the wrapped bytes themselves. Equal wrapped bytes under the same key always
///   unwrap to the same data key, so a hit can never return the wrong key.
/// - Entries expire `timeToLive` after insertion, not after last use: a key revoked in the KMS
///   stops being usable from the cache within one TTL, however hot the secret is.
/// - When full, expired entries are dropped first, then the least recently used one.
/// - `capacity <= 0` (or a non-positive TTL) turns the cache off: nothing is stored and every
///   lookup misses, which is also what `legate bench` compares against.
///
/// Keys are held as `SymmetricKey`, whose storage swift-crypto manages and wipes itself.
/// Eviction scans all entries, fine for the intended sizes (up to a few thousand).
public actor DataKeyCache {
    /// What identifies a wrapped data key.
    public struct Key: Hashable, Sendable {
        public let connectorId: String
        public let keyRef: String
        public let keyVersion: UInt32
        /// The wrapped (encrypted) data key; not secret.
        public let wrappedKey: [UInt8]

        public init(connectorId: String, keyRef: String, keyVersion: UInt32, wrappedKey: [UInt8]) {
            self.connectorId = connectorId
            self.keyRef = keyRef
            self.keyVersion = keyVersion
            self.wrappedKey = wrappedKey
        }

        /// The key for the data key an envelope header carries.
        public init(header: EnvelopeHeader) {
            self.init(
                connectorId: header.connectorId, keyRef: header.keyRef, keyVersion: header.keyVersion,
                wrappedKey: header.wrappedKey)
        }
    }

    /// Counters for tests, metrics and benchmarks.
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        /// Entries dropped to make room (least recently used).
        public var evictions = 0
        /// Entries dropped because their TTL had passed.
        public var expirations = 0

        public init(hits: Int = 0, misses: Int = 0, evictions: Int = 0, expirations: Int = 0) {
            self.hits = hits
            self.misses = misses
            self.evictions = evictions
            self.expirations = expirations
        }
    }

    private struct Entry {
        let dataKey: SymmetricKey
        let expiresAt: ContinuousClock.Instant
        var lastUse: UInt64
    }

    /// Maximum number of entries; `<= 0` disables the cache.
    public let capacity: Int
    /// How long an entry stays valid after insertion.
    public let timeToLive: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private var entries: [Key: Entry] = [:]
    /// Monotonic use counter; cheaper and more deterministic than timestamps for LRU order.
    private var useCounter: UInt64 = 0
    /// Hit, miss, eviction and expiration counts since creation.
    public private(set) var statistics = Statistics()

    /// - Parameters:
    ///   - capacity: maximum entries; `0` turns caching off.
    ///   - timeToLive: lifetime of an entry from insertion.
    ///   - now: the clock, injectable so tests can move time.
    public init(
        capacity: Int, timeToLive: Duration,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.capacity = capacity
        self.timeToLive = timeToLive
        self.now = now
    }

    /// Whether the cache stores anything at all.
    public nonisolated var isEnabled: Bool { capacity > 0 && timeToLive > .zero }

    /// Number of entries currently held (expired ones included until they are next touched).
    public var count: Int { entries.count }

    /// The cached data key for `key`, or nil on a miss or when the entry has expired.
    public func dataKey(for key: Key) -> SymmetricKey? {
        guard let entry = entries[key] else {
            statistics.misses += 1
            return nil
        }
        guard now() < entry.expiresAt else {
            entries[key] = nil
            statistics.expirations += 1
            statistics.misses += 1
            return nil
        }
        useCounter &+= 1
        entries[key]?.lastUse = useCounter
        statistics.hits += 1
        return entry.dataKey
    }

    /// Stores `dataKey` under `key`, replacing any previous entry and restarting its TTL.
    /// Does nothing when the cache is off.
    public func insert(_ dataKey: SymmetricKey, for key: Key) {
        guard isEnabled else { return }
        if entries[key] == nil, entries.count >= capacity { makeRoom() }
        useCounter &+= 1
        entries[key] = Entry(dataKey: dataKey, expiresAt: now().advanced(by: timeToLive), lastUse: useCounter)
    }

    /// Returns the cached data key for `key`, or calls `unwrap` (the KMS) on a miss and caches
    /// its answer. Errors from `unwrap` are passed through and nothing is cached.
    ///
    /// Concurrent misses for the same key may each call `unwrap` (the actor is free while it
    /// runs); that costs a duplicate KMS call but never returns a wrong key.
    public func dataKey<E: Error>(for key: Key, unwrap: @Sendable () async throws(E) -> SymmetricKey)
        async throws(E) -> SymmetricKey
    {
        if let cached = dataKey(for: key) { return cached }
        let fresh = try await unwrap()
        insert(fresh, for: key)
        return fresh
    }

    /// Forgets one entry (for example after the KMS reported the key disabled).
    public func remove(_ key: Key) {
        entries[key] = nil
    }

    /// Forgets every entry (key rotation, shutdown). Statistics are kept.
    public func removeAll() {
        entries.removeAll()
    }

    private func makeRoom() {
        let current = now()
        let before = entries.count
        entries = entries.filter { current < $0.value.expiresAt }
        statistics.expirations += before - entries.count
        while entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            entries[oldest.key] = nil
            statistics.evictions += 1
        }
    }
}
