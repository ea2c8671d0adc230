import LegateCore
import XCTest

@testable import LegateMasking

final class MaskingStreamTests: XCTestCase {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    private func streamed(_ masker: SecretMasker, _ chunks: [[UInt8]]) -> [UInt8] {
        var stream = masker.makeStream()
        var output: [UInt8] = []
        for chunk in chunks { output += stream.process(chunk) }
        return output + stream.finish()
    }

    func testSecretSplitAcrossChunksIsMasked() {
        let masker = SecretMasker(secrets: ["split-secret-value"])
        let input = bytes("before split-secret-value after")
        for cut in 0...input.count {
            let output = streamed(masker, [Array(input[..<cut]), Array(input[cut...])])
            XCTAssertEqual(String(decoding: output, as: UTF8.self), "before *** after", "cut at \(cut)")
        }
        let byteByByte = streamed(masker, input.map { [$0] })
        XCTAssertEqual(String(decoding: byteByByte, as: UTF8.self), "before *** after")
    }

    func testOnlyPossibleSecretStartsAreHeldBack() {
        let masker = SecretMasker(secrets: ["abcdef"])
        var stream = masker.makeStream()
        XCTAssertEqual(stream.process(bytes("hello ab")), bytes("hello "))
        XCTAssertEqual(stream.heldBackCount, 2)
        XCTAssertEqual(stream.process(bytes("x")), bytes("abx"), "released once it cannot be a secret")
        XCTAssertEqual(stream.heldBackCount, 0)
        XCTAssertEqual(stream.process(bytes("abcde")), [])
        XCTAssertEqual(stream.heldBackCount, 5)
        XCTAssertEqual(stream.process(bytes("f")), bytes("***"))
        XCTAssertEqual(stream.finish(), [])
    }

    func testHeldBackBytesAreFlushedByFinish() {
        let masker = SecretMasker(secrets: ["abcdef"])
        var stream = masker.makeStream()
        XCTAssertEqual(stream.process(bytes("x abcde")), bytes("x "))
        XCTAssertEqual(stream.finish(), bytes("abcde"))
        // The stream starts over after finish.
        XCTAssertEqual(stream.process(bytes("abcdef!")), bytes("***!"))
        XCTAssertEqual(stream.finish(), [])
    }

    func testHoldBackNeverExceedsLongestPatternMinusOne() {
        let masker = SecretMasker(patterns: [bytes("aaaa"), bytes("aab"), bytes("abababab")])
        var rng = SplitMix64(seed: 11)
        var stream = masker.makeStream()
        for _ in 0..<2_000 {
            _ = stream.process(rng.bytes(count: Int.random(in: 0...5, using: &rng), from: bytes("ab")))
            XCTAssertLessThanOrEqual(stream.heldBackCount, masker.longestPatternLength - 1)
        }
    }

    func testRepeatedSecretDoesNotGrowTheBuffer() {
        let masker = SecretMasker(secrets: ["repeat"])
        var stream = masker.makeStream()
        var output: [UInt8] = []
        for _ in 0..<10_000 {
            output += stream.process(bytes("repeat"))
            XCTAssertLessThan(stream.heldBackCount, 6)
        }
        output += stream.finish()
        XCTAssertEqual(output, bytes("***"), "one run, one replacement")
    }

    func testAdjacentMatchesAcrossChunksMerge() {
        let masker = SecretMasker(patterns: [bytes("abcd"), bytes("cdef"), bytes("xy")])
        XCTAssertEqual(streamed(masker, [bytes("abcd"), bytes("ef")]), bytes("***"))
        XCTAssertEqual(streamed(masker, [bytes("ab"), bytes("cd"), bytes("xy"), bytes("!")]), bytes("***!"))
        XCTAssertEqual(streamed(masker, [bytes("abcd"), bytes("!xy")]), bytes("***!***"))
    }

    func testLaterLongerMatchCoversAnEarlierGap() {
        // "cd" matches first; "bcdx" then reaches back over "b", which must not have been emitted.
        let masker = SecretMasker(patterns: [bytes("cd"), bytes("bcdx")])
        XCTAssertEqual(streamed(masker, [bytes("abcd"), bytes("x!")]), bytes("a***!"))
        XCTAssertEqual(streamed(masker, [bytes("abcd"), bytes("y!")]), bytes("ab***y!"))
    }

    func testEmptyChunksAndEmptyMasker() {
        var stream = SecretMasker.empty.makeStream()
        XCTAssertEqual(stream.process([]), [])
        XCTAssertEqual(stream.process(bytes("anything")), bytes("anything"))
        XCTAssertEqual(stream.heldBackCount, 0)
        XCTAssertEqual(stream.finish(), [])
    }

    func testStreamsAreIndependentValues() {
        let masker = SecretMasker(secrets: ["abcdef"])
        var first = masker.makeStream()
        _ = first.process(bytes("abc"))
        var second = first  // a copy continues on its own
        XCTAssertEqual(first.process(bytes("def")), bytes("***"))
        XCTAssertEqual(second.process(bytes("xyz")), bytes("abcxyz"))
    }
}
