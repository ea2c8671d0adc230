import Crypto
import Foundation
import LegateCore
import LegateCrypto
import Logging
import XCTest

@testable import KeyProviders

final class RetryPolicyTests: XCTestCase {
    actor Counter {
        var n = 0
        func next() -> Int {
            n += 1
            return n
        }
    }

    func testRetriesTransientErrorsUntilSuccess() async throws {
        let counter = Counter()
        let policy = RetryPolicy(maxAttempts: 5, deadline: .seconds(60))
        let result = try await policy.run(sleep: { _ in }) {
            let n = await counter.next()
            if n < 3 { throw ProviderError.transient("throttled", "slow down") }
            return n
        }
        XCTAssertEqual(result, 3)
    }

    func testPermanentErrorsFailAtOnce() async {
        let counter = Counter()
        do {
            _ = try await RetryPolicy().run(sleep: { _ in }) { () async throws -> Int in
                _ = await counter.next()
                throw ProviderError.permanent("access_denied", "denied")
            }
            XCTFail("expected an error")
        } catch let e as ProviderError {
            XCTAssertEqual(e.code, "access_denied")
        } catch { XCTFail("\(error)") }
        let n = await counter.n
        XCTAssertEqual(n, 1)
    }

    func testGivesUpAfterMaxAttempts() async {
        let counter = Counter()
        do {
            _ = try await RetryPolicy(maxAttempts: 4, deadline: .seconds(600)).run(sleep: { _ in }) { () async throws -> Int in
                _ = await counter.next()
                throw ProviderError.transient("unavailable", "503")
            }
            XCTFail("expected an error")
        } catch {}
        let n = await counter.n
        XCTAssertEqual(n, 4)
    }
}

final class BuiltinKeyManagerTests: XCTestCase {
    func tempDir() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("kp-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    func testKeyringCreatesA0600KeyOnFirstUseAndRotates() throws {
        let k = try Keyring(stateDirectory: tempDir(), keyRef: "pool-a")
        XCTAssertEqual(k.versions(), [])
        let (v1, key1) = try k.newest()
        XCTAssertEqual(v1, 1)
        XCTAssertEqual(key1.count, 32)
        let attrs = try FileManager.default.attributesOfItem(atPath: k.directory + "/v1.key")
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(try k.rotate(), 2)
        XCTAssertEqual(k.versions(), [1, 2])
        XCTAssertThrowsError(try k.remove(version: 2)) { XCTAssertTrue("\($0)".contains("newest")) }
        try k.remove(version: 1)
        XCTAssertThrowsError(try k.key(version: 1)) { XCTAssertTrue("\($0)".contains("not on this delegate")) }
        XCTAssertThrowsError(try Keyring(stateDirectory: "/tmp", keyRef: "../escape"))
    }

    func testWrapUnwrapRewrapAcrossKeyVersions() async throws {
        let dir = tempDir()
        let km = BuiltinKeyManager(keyring: try Keyring(stateDirectory: dir, keyRef: "default"))
        let id = SecretIdentity(scope: "acme/ops", name: "db", version: 1)
        let g = try await km.generateDataKey(for: id)
        XCTAssertEqual(g.wrapped.keyVersion, 1)
        let back = try await km.unwrapDataKey(g.wrapped, for: id)
        XCTAssertEqual(back, g.key)
        // Another identity cannot unwrap it (the identity is the wrap's AAD).
        do {
            _ = try await km.unwrapDataKey(g.wrapped, for: SecretIdentity(scope: "acme/ops", name: "other", version: 1))
            XCTFail("unwrapped under the wrong identity")
        } catch {}
        _ = try km.keyring.rotate()
        let re = try await km.rewrapDataKey(g.wrapped, for: id)
        XCTAssertEqual(re.keyVersion, 2)
        XCTAssertNotEqual(re.wrapped, g.wrapped.wrapped)
        let again = try await km.unwrapDataKey(re, for: id)
        XCTAssertEqual(again, g.key)
        let report = try await km.validate()
        XCTAssertTrue(report.ok)
    }

    func testRegistryNamesUnknownTypes() throws {
        var r = ProviderRegistry()
        BuiltinKeyManager.register(in: &r)
        let ctx = ProviderContext(stateDirectory: tempDir(), logger: Logger(label: "t"))
        XCTAssertNoThrow(try r.keyManager(ConnectorDescriptor(id: "c1", type: "builtin", config: [:]), context: ctx))
        XCTAssertThrowsError(try r.make(ConnectorDescriptor(id: "c2", type: "gcpkms", config: [:]), context: ctx)) { e in
            let pe = e as? ProviderError
            XCTAssertEqual(pe?.code, "unsupported_connector_type")
            XCTAssertTrue(pe?.message.contains("builtin") ?? false)
            XCTAssertEqual(pe?.origin, .configuration)
        }
    }
}
