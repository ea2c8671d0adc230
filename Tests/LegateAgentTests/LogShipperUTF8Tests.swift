import XCTest

@testable import LegateAgent

final class LogShipperUTF8Tests: XCTestCase {
    private func cut(_ bytes: [UInt8]) -> Int { LogShipper.completeUTF8Prefix(bytes) }
    private func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testEmpty() {
        XCTAssertEqual(cut([]), 0)
    }

    func testASCII() {
        XCTAssertEqual(cut(utf8("a")), 1)
        XCTAssertEqual(cut(utf8("hello, world\n")), 13)
        XCTAssertEqual(cut([0x00]), 1)
        XCTAssertEqual(cut([0x7f]), 1)
    }

    func testCompleteMultiByteSequences() {
        for s in ["\u{e9}", "\u{20ac}", "\u{1F600}", "a\u{e9}", "a\u{20ac}", "a\u{1F600}", "\u{e9}\u{20ac}\u{1F600}", "x\u{1F600}y"] {
            let b = utf8(s)
            XCTAssertEqual(cut(b), b.count, s)
        }
        // Sanity: the byte lengths are what the cases claim.
        XCTAssertEqual(utf8("\u{e9}").count, 2)
        XCTAssertEqual(utf8("\u{20ac}").count, 3)
        XCTAssertEqual(utf8("\u{1F600}").count, 4)
    }

    func testEveryTruncationOfAMultiByteSequenceCutsBeforeIt() {
        for prefix in ["", "a", "hello ", "\u{e9}", "\u{1F600}"] {
            let head = utf8(prefix)
            for scalar in ["\u{e9}", "\u{7ff}", "\u{20ac}", "\u{ffff}", "\u{1F600}", "\u{10FFFF}"] {
                let seq = utf8(scalar)
                for keep in 1..<seq.count {
                    let bytes = head + seq.prefix(keep)
                    XCTAssertEqual(
                        cut(bytes), head.count,
                        "prefix \(prefix.debugDescription), \(seq.count)-byte sequence cut after \(keep) byte(s)")
                }
                XCTAssertEqual(cut(head + seq), head.count + seq.count)
            }
        }
    }

    func testKnownBytes() {
        XCTAssertEqual(cut([0x61, 0xC3]), 1)
        XCTAssertEqual(cut([0x61, 0xC3, 0xA9]), 3)
        XCTAssertEqual(cut([0xE2]), 0)
        XCTAssertEqual(cut([0xE2, 0x82]), 0)
        XCTAssertEqual(cut([0xE2, 0x82, 0xAC]), 3)
        XCTAssertEqual(cut([0xF0, 0x9F, 0x98]), 0)
        XCTAssertEqual(cut([0x61, 0x62, 0xF0, 0x9F, 0x98]), 2)
        XCTAssertEqual(cut([0xF0, 0x9F, 0x98, 0x80]), 4)
    }

    func testPrefixIsValidUTF8AndRestCompletesIt() {
        // Splitting a stream anywhere and carrying the remainder reassembles the text exactly.
        let text = "h\u{e9}llo \u{20ac}100 \u{1F600} w\u{f6}rld \u{10348}!"
        let bytes = utf8(text)
        for split in 0...bytes.count {
            let first = Array(bytes[..<split])
            let n = cut(first)
            XCTAssertLessThanOrEqual(n, first.count)
            XCTAssertGreaterThanOrEqual(n, first.count - 3, "never holds back more than one incomplete sequence")
            let emitted = Array(first[..<n])
            XCTAssertNotNil(String(validating: emitted, as: UTF8.self), "split \(split)")
            let carried = Array(first[n...]) + bytes[split...]
            XCTAssertEqual(String(decoding: emitted + carried, as: UTF8.self), text)
        }
    }
}
