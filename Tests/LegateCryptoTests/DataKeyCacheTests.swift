import Crypto
import LegateCrypto
import Synchronization
import XCTest

final class DataKeyCacheTests: XCTestCase {
    func cacheKey(_ n: UInt8, version: UInt32 = 1) -> DataKeyCache.Key {
        DataKeyCache.Key(connectorId: "kms", keyRef: "key", keyVersion: version, wrappedKey: [n, n, n])
    }

    func bytes(_ key: SymmetricKey?) -> [UInt8]? { key?.withUnsafeBytes { Array($0) } }

    func testMissThenHit() async {
        let clock = ManualClock()
        let cache = DataKeyCache(capacity: 4, timeToLive: .seconds(60), now: { clock.now })
        let dataKey = DataKey.generate()
        let none = await cache.dataKey(for: cacheKey(1))
        XCTAssertNil(none)
        await cache.insert(dataKey, for: cacheKey(1))
        let hit = await cache.dataKey(for: cacheKey(1))
        XCTAssertEqual(bytes(hit), bytes(dataKey))
        let stats = await cache.statistics
        XCTAssertEqual(stats, DataKeyCache.Statistics(hits: 1, misses: 1))
    }

    func testEveryKeyFieldTakesPartInTheLookup() async {
        let cache = DataKeyCache(capacity: 8, timeToLive: .seconds(60))
        let base = DataKeyCache.Key(connectorId: "a", keyRef: "k", keyVersion: 1, wrappedKey: [1])
        await cache.insert(DataKey.generate(), for: base)
        let variants = [
            DataKeyCache.Key(connectorId: "b", keyRef: "k", keyVersion: 1, wrappedKey: [1]),
            DataKeyCache.Key(connectorId: "a", keyRef: "j", keyVersion: 1, wrappedKey: [1]),
            DataKeyCache.Key(connectorId: "a", keyRef: "k", keyVersion: 2, wrappedKey: [1]),
            DataKeyCache.Key(connectorId: "a", keyRef: "k", keyVersion: 1, wrappedKey: [2]),
        ]
        for variant in variants {
            let found = await cache.dataKey(for: variant)
            XCTAssertNil(found, "\(variant)")
        }
        let found = await cache.dataKey(for: base)
        XCTAssertNotNil(found)
    }

    func testKeyFromAnEnvelopeHeader() throws {
        let header = try EnvelopeHeader(
            connectorId: "c", keyRef: "k", keyVersion: 9, wrappedKey: [1, 2], nonce: Array(repeating: 0, count: 12))
        XCTAssertEqual(
            DataKeyCache.Key(header: header),
            DataKeyCache.Key(connectorId: "c", keyRef: "k", keyVersion: 9, wrappedKey: [1, 2]))
    }

    func testEntriesExpireAfterTheirTTL() async {
        let clock = ManualClock()
        let cache = DataKeyCache(capacity: 4, timeToLive: .seconds(60), now: { clock.now })
        await cache.insert(DataKey.generate(), for: cacheKey(1))
        clock.advance(by: .seconds(59))
        let early = await cache.dataKey(for: cacheKey(1))
        XCTAssertNotNil(early, "still valid just before the TTL")
        clock.advance(by: .seconds(1))
        let late = await cache.dataKey(for: cacheKey(1))
        XCTAssertNil(late, "expired at the TTL, even though it was just used")
        let stats = await cache.statistics
        XCTAssertEqual(stats.expirations, 1)
        let count = await cache.count
        XCTAssertEqual(count, 0)
    }

    func testTheLeastRecentlyUsedEntryIsEvictedWhenFull() async {
        let clock = ManualClock()
        let cache = DataKeyCache(capacity: 3, timeToLive: .seconds(60), now: { clock.now })
        for n: UInt8 in 1...3 { await cache.insert(DataKey.generate(), for: cacheKey(n)) }
        _ = await cache.dataKey(for: cacheKey(1))  // 2 is now the least recently used
        await cache.insert(DataKey.generate(), for: cacheKey(4))
        let count = await cache.count
        XCTAssertEqual(count, 3)
        let two = await cache.dataKey(for: cacheKey(2))
        XCTAssertNil(two)
        for n: UInt8 in [1, 3, 4] {
            let present = await cache.dataKey(for: cacheKey(n))
            XCTAssertNotNil(present, "entry \(n)")
        }
        let stats = await cache.statistics
        XCTAssertEqual(stats.evictions, 1)
    }

    func testExpiredEntriesMakeRoomBeforeLiveOnesAreEvicted() async {
        let clock = ManualClock()
        let cache = DataKeyCache(capacity: 2, timeToLive: .seconds(10), now: { clock.now })
        await cache.insert(DataKey.generate(), for: cacheKey(1))
        clock.advance(by: .seconds(5))
        await cache.insert(DataKey.generate(), for: cacheKey(2))
        clock.advance(by: .seconds(6))  // 1 expired, 2 alive
        await cache.insert(DataKey.generate(), for: cacheKey(3))
        let two = await cache.dataKey(for: cacheKey(2))
        XCTAssertNotNil(two)
        let stats = await cache.statistics
        XCTAssertEqual(stats.evictions, 0)
        XCTAssertEqual(stats.expirations, 1)
    }

    func testReplacingAnEntryDoesNotEvictAnother() async {
        let cache = DataKeyCache(capacity: 2, timeToLive: .seconds(60))
        await cache.insert(DataKey.generate(), for: cacheKey(1))
        await cache.insert(DataKey.generate(), for: cacheKey(2))
        let newer = DataKey.generate()
        await cache.insert(newer, for: cacheKey(2))
        let count = await cache.count
        XCTAssertEqual(count, 2)
        let found = await cache.dataKey(for: cacheKey(2))
        XCTAssertEqual(bytes(found), bytes(newer))
    }

    func testCapacityZeroTurnsTheCacheOff() async {
        for cache in [DataKeyCache(capacity: 0, timeToLive: .seconds(60)), DataKeyCache(capacity: 5, timeToLive: .zero)] {
            XCTAssertFalse(cache.isEnabled)
            await cache.insert(DataKey.generate(), for: cacheKey(1))
            let found = await cache.dataKey(for: cacheKey(1))
            XCTAssertNil(found)
            let calls = Atomic<Int>(0)
            for _ in 0..<3 {
                // The closure cannot fail, so typed throws infers `Never` and no `try` is needed.
                _ = await cache.dataKey(for: cacheKey(1)) {
                    calls.add(1, ordering: .relaxed)
                    return DataKey.generate()
                }
            }
            XCTAssertEqual(calls.load(ordering: .relaxed), 3, "every lookup goes to the key manager")
            let count = await cache.count
            XCTAssertEqual(count, 0)
        }
    }

    func testUnwrapIsCalledOnceAndErrorsAreNotCached() async throws {
        struct KMSDown: Error {}
        let cache = DataKeyCache(capacity: 4, timeToLive: .seconds(60))
        let calls = Atomic<Int>(0)
        do {
            _ = try await cache.dataKey(for: cacheKey(1)) { () async throws(KMSDown) -> SymmetricKey in
                calls.add(1, ordering: .relaxed)
                throw KMSDown()
            }
            XCTFail("the error must pass through")
        } catch {
            // Typed throws: the caught error is statically a `KMSDown`, passed through unchanged.
            let passedThrough: KMSDown = error
            _ = passedThrough
        }
        let dataKey = DataKey.generate()
        for _ in 0..<5 {
            let got = await cache.dataKey(for: cacheKey(1)) {
                calls.add(1, ordering: .relaxed)
                return dataKey
            }
            XCTAssertEqual(bytes(got), bytes(dataKey))
        }
        XCTAssertEqual(calls.load(ordering: .relaxed), 2)
        let stats = await cache.statistics
        XCTAssertEqual(stats.hits, 4)
        XCTAssertEqual(stats.misses, 2)
    }

    func testRemoveAndRemoveAll() async {
        let cache = DataKeyCache(capacity: 4, timeToLive: .seconds(60))
        for n: UInt8 in 1...3 { await cache.insert(DataKey.generate(), for: cacheKey(n)) }
        await cache.remove(cacheKey(2))
        let two = await cache.dataKey(for: cacheKey(2))
        XCTAssertNil(two)
        var count = await cache.count
        XCTAssertEqual(count, 2)
        await cache.removeAll()
        count = await cache.count
        XCTAssertEqual(count, 0)
    }
}
