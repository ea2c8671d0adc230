import Foundation
@testable import LegateCrypto
import XCTest

final class SecretBytesTests: XCTestCase {
    let plaintext = "hunter2-s3cr3t-value"

    func testEveryPrintingPathIsRedacted() {
        let secret = SecretBytes(utf8: plaintext)
        XCTAssertEqual(secret.description, "<redacted>")
        XCTAssertEqual(secret.debugDescription, "<redacted>")
        XCTAssertEqual(String(describing: secret), "<redacted>")
        XCTAssertEqual(String(reflecting: secret), "<redacted>")
        XCTAssertEqual("value=\(secret)", "value=<redacted>")
        XCTAssertEqual("\([secret])", "[<redacted>]")
        var dumped = ""
        dump(secret, to: &dumped)
        XCTAssertTrue(dumped.contains("<redacted>"), dumped)
        XCTAssertFalse(dumped.contains("hunter2"), dumped)
        XCTAssertFalse(dumped.contains("104"), dumped)  // "h" as a byte value
        XCTAssertTrue(Mirror(reflecting: secret).children.isEmpty)
        // Wrapped in other values, it stays hidden.
        struct Holder { let secret: SecretBytes }
        var nested = ""
        dump(Holder(secret: secret), to: &nested)
        XCTAssertFalse(nested.contains("hunter2"), nested)
        XCTAssertFalse(String(describing: Holder(secret: secret)).contains("hunter2"))
    }

    func testHoldsTheBytesItWasGiven() {
        let bytes: [UInt8] = [0, 1, 2, 0xFF]
        let secret = SecretBytes(bytes)
        XCTAssertEqual(secret.count, 4)
        XCTAssertFalse(secret.isEmpty)
        XCTAssertEqual(secret.withUnsafeBytes { Array($0) }, bytes)
        XCTAssertEqual(SecretBytes(utf8: "é").withUnsafeBytes { Array($0) }, [0xC3, 0xA9])
        XCTAssertEqual(SecretBytes(Data([9, 8])).withUnsafeBytes { Array($0) }, [9, 8])
    }

    func testEmptySecret() {
        let secret = SecretBytes([])
        XCTAssertTrue(secret.isEmpty)
        XCTAssertEqual(secret.withUnsafeBytes { $0.count }, 0)
        XCTAssertEqual(secret.unsafeUTF8String(), "")
        XCTAssertEqual(SecretBytes(utf8: "").count, 0)
    }

    func testUTF8AccessorRoundTripsAndRejectsInvalidUTF8() {
        XCTAssertEqual(SecretBytes(utf8: plaintext).unsafeUTF8String(), plaintext)
        XCTAssertEqual(SecretBytes(utf8: "ünïcødé ✓").unsafeUTF8String(), "ünïcødé ✓")
        XCTAssertNil(SecretBytes([0xFF, 0xFE]).unsafeUTF8String())
        XCTAssertNil(SecretBytes([0x61, 0xC3]).unsafeUTF8String())  // cut multi-byte sequence
    }

    func testInitializingInPlace() throws {
        let secret = SecretBytes(count: 5) { buffer in
            for i in buffer.indices { buffer[i] = UInt8(i * 2) }
        }
        XCTAssertEqual(secret.withUnsafeBytes { Array($0) }, [0, 2, 4, 6, 8])
        XCTAssertEqual(SecretBytes(count: -3) { _ in }.count, 0)

        struct Stop: Error {}
        XCTAssertThrowsError(try SecretBytes(count: 8) { (_: UnsafeMutableRawBufferPointer) throws(Stop) in throw Stop() }) {
            XCTAssertTrue($0 is Stop)
        }
    }

    func testEqualityComparesContents() {
        XCTAssertTrue(SecretBytes(utf8: "abc") == SecretBytes(utf8: "abc"))
        XCTAssertFalse(SecretBytes(utf8: "abc") == SecretBytes(utf8: "abd"))
        XCTAssertFalse(SecretBytes(utf8: "abc") == SecretBytes(utf8: "abcd"))
        XCTAssertTrue(SecretBytes([]) == SecretBytes([]))
    }

    func testCanBeSharedAcrossTasks() async {
        let secret = SecretBytes(utf8: plaintext)
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { secret.withUnsafeBytes { $0.count } } }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertEqual(counts, Array(repeating: plaintext.utf8.count, count: 8))
    }

    func testCopiesNonContiguousCollections() {
        // No contiguous storage: the element-by-element path.
        let lazy = (0..<300).lazy.map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertEqual(SecretBytes(lazy).withUnsafeBytes { Array($0) }, Array(lazy))
        XCTAssertEqual(SecretBytes(Data([1, 2, 3]).dropFirst()).withUnsafeBytes { Array($0) }, [2, 3])
        XCTAssertEqual(SecretBytes([UInt8](repeating: 9, count: 5)[1...]).withUnsafeBytes { Array($0) }, [9, 9, 9, 9])
    }

    /// Records whether a buffer was all zeros when `Data` released it.
    final class FreeProbe: @unchecked Sendable {
        var zeroedWhenFreed: Bool?
    }

    /// What `AES.GCM.open` returns (a `Data` over a malloc'd buffer) is taken over, and zeroed in
    /// that very buffer before it is freed — not in a copy.
    func testAdoptedDataIsZeroedInPlaceBeforeItIsFreed() throws {
        for count in [MemoryLayout<Data>.size + 1, 4096, 1 << 20] {
            let probe = FreeProbe()
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
            raw.initializeMemory(as: UInt8.self, repeating: 0xA5)
            let data = Data(
                bytesNoCopy: try XCTUnwrap(raw.baseAddress), count: count,
                deallocator: .custom { pointer, length in
                    probe.zeroedWhenFreed = UnsafeRawBufferPointer(start: pointer, count: length).allSatisfy { $0 == 0 }
                    pointer.deallocate()
                })
            do {
                let secret = SecretBytes(adopting: consume data)
                XCTAssertEqual(secret.count, count)
                XCTAssertTrue(secret.withUnsafeBytes { $0.allSatisfy { $0 == 0xA5 } })
                XCTAssertTrue(secret == SecretBytes([UInt8](repeating: 0xA5, count: count)))
                XCTAssertNil(probe.zeroedWhenFreed, "freed while still in use")
            }
            XCTAssertEqual(probe.zeroedWhenFreed, true, "count \(count)")
        }
    }

    func testAdoptingASharedDataLeavesTheOtherCopyAlone() {
        let shared = Data(repeating: 7, count: 64)
        do {
            let secret = SecretBytes(adopting: shared)
            XCTAssertEqual(secret.withUnsafeBytes { Array($0) }, Array(repeating: 7, count: 64))
        }
        XCTAssertEqual(shared, Data(repeating: 7, count: 64))
    }

    func testAdoptingShortValuesCopies() {
        for count in 0...(MemoryLayout<Data>.size + 1) {
            let bytes = (0..<count).map { UInt8($0 + 1) }
            let secret = SecretBytes(adopting: Data(bytes))
            XCTAssertEqual(secret.count, count)
            XCTAssertEqual(secret.withUnsafeBytes { Array($0) }, bytes)
            XCTAssertEqual(secret.isEmpty, count == 0)
        }
    }

    func testSecureZeroClearsEveryByte() {
        var bytes: [UInt8] = Array(1...64)
        SecureZero.zero(&bytes)
        XCTAssertEqual(bytes, Array(repeating: 0, count: 64))
        var data = Data([1, 2, 3])
        SecureZero.zero(&data)
        XCTAssertEqual(data, Data([0, 0, 0]))
        var empty: [UInt8] = []
        SecureZero.zero(&empty)
        XCTAssertEqual(empty, [])
    }
}

final class SecretIdentityTests: XCTestCase {
    func testEncodingIsLengthPrefixedAndBigEndian() {
        let id = SecretIdentity(scope: "ab", name: "c", version: 258)
        XCTAssertEqual(
            id.encoded(),
            [0, 0, 0, 0, 0, 0, 0, 2, 0x61, 0x62, 0, 0, 0, 0, 0, 0, 0, 1, 0x63, 0, 0, 0, 0, 0, 0, 1, 2])
        XCTAssertEqual(
            SecretIdentity(scope: "", name: "", version: -1).encoded(),
            Array(repeating: 0, count: 16) + Array(repeating: 0xFF, count: 8))
    }

    func testEncodingIsUnambiguous() {
        let pairs: [(SecretIdentity, SecretIdentity)] = [
            (SecretIdentity(scope: "ab", name: "c", version: 1), SecretIdentity(scope: "a", name: "bc", version: 1)),
            (SecretIdentity(scope: "a", name: "b", version: 1), SecretIdentity(scope: "a", name: "b", version: 2)),
            (SecretIdentity(scope: "", name: "ab", version: 1), SecretIdentity(scope: "ab", name: "", version: 1)),
        ]
        for (a, b) in pairs {
            XCTAssertNotEqual(a.encoded(), b.encoded())
            XCTAssertNotEqual(a, b)
        }
    }

    func testEqualityFollowsTheEncodedBytes() {
        // Canonically equivalent for Swift's ==, but different bytes, so different AAD.
        let precomposed = SecretIdentity(scope: "s", name: "caf\u{E9}", version: 1)
        let decomposed = SecretIdentity(scope: "s", name: "cafe\u{301}", version: 1)
        XCTAssertEqual(precomposed.name, decomposed.name)
        XCTAssertNotEqual(precomposed, decomposed)
        XCTAssertNotEqual(precomposed.encoded(), decomposed.encoded())
        XCTAssertEqual(Set([precomposed, decomposed, precomposed]).count, 2)
    }

    func testDescriptionQuotesAndEscapes() {
        let id = SecretIdentity(scope: "acme", name: "bad\nname", version: 4)
        XCTAssertEqual(id.description, #"scope "acme" name "bad\nname" version 4"#)
    }
}
