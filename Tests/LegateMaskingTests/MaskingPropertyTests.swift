import LegateCore
import Foundation
import XCTest

@testable import LegateMasking

/// Randomised checks with a seeded generator: a failure message names the seed and iteration, so
/// it can be replayed.
final class MaskingPropertyTests: XCTestCase {
    private static let printable: [UInt8] = Array(0x20...0x7E).filter { $0 != UInt8(ascii: "*") }
    // '*' is left out so that masked output, which contains "***", cannot spell a secret again.
    private static let anyByte: [UInt8] = Array(0...255).filter { $0 != UInt8(ascii: "*") }

    private func streamed(_ masker: SecretMasker, _ chunks: [[UInt8]], maxHeldBack: Int) -> [UInt8] {
        var stream = masker.makeStream()
        var output: [UInt8] = []
        for chunk in chunks {
            output += stream.process(chunk)
            XCTAssertLessThanOrEqual(stream.heldBackCount, maxHeldBack)
        }
        return output + stream.finish()
    }

    private func randomSecret(_ rng: inout SplitMix64) -> [UInt8] {
        let alphabet = Bool.random(using: &rng) ? Self.printable : Self.anyByte
        while true {
            let secret = rng.bytes(count: Int.random(in: 4...64, using: &rng), from: alphabet)
            if !MaskingPatterns.isTooShortToMask(secret) { return secret }
        }
    }

    /// One way a task might print a secret, and the part of that output which depends on the
    /// secret alone and so must not survive masking.
    private func leak(_ secret: [UInt8], _ rng: inout SplitMix64) -> (text: [UInt8], secretPart: [UInt8]) {
        let text = String(bytes: secret, encoding: .utf8)
        switch (Int.random(in: 0..<4, using: &rng), text) {
        case (1, _):
            let prefix = rng.bytes(count: Int.random(in: 0...5, using: &rng), from: Self.anyByte)
            let suffix = rng.bytes(count: Int.random(in: 0...5, using: &rng), from: Self.anyByte)
            let encoded = Array(Data(prefix + secret + suffix).base64EncodedString().utf8)
            let first = (8 * prefix.count + 5) / 6
            let end = 8 * (prefix.count + secret.count) / 6
            return (encoded, Array(encoded[first..<end]))
        case (2, let text?):
            let encoded = Array((text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text).utf8)
            return (encoded, encoded)
        case (3, let text?):
            let encoded = Array((try? JSONEncoder().encode(text)) ?? Data())
            return (encoded, Array(encoded.dropFirst().dropLast()))
        default:
            return (secret, secret)
        }
    }

    func testStreamingEqualsOneShotAndNoSecretSurvives() {
        let seed: UInt64 = 0x5EC2E7
        var rng = SplitMix64(seed: seed)
        for iteration in 0..<300 {
            let secrets = (0..<Int.random(in: 1...4, using: &rng)).map { _ in randomSecret(&rng) }
            let masker = SecretMasker(secrets: secrets)
            var input: [UInt8] = []
            var secretParts: [[UInt8]] = []
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                input += rng.bytes(count: Int.random(in: 0...40, using: &rng), from: Self.printable)
                let leaked = leak(secrets[Int.random(in: 0..<secrets.count, using: &rng)], &rng)
                input += leaked.text
                secretParts.append(leaked.secretPart)
            }
            input += rng.bytes(count: Int.random(in: 0...40, using: &rng), from: Self.printable)

            let oneShot = masker.mask(input)
            let maxChunk = [1, 2, 3, 7, 16, 64, 1_000][Int.random(in: 0..<7, using: &rng)]
            let chunks = rng.chunks(of: input, maxChunk: maxChunk)
            XCTAssertEqual(
                streamed(masker, chunks, maxHeldBack: max(0, masker.longestPatternLength - 1)), oneShot,
                "seed \(seed) iteration \(iteration)")
            for part in secrets + secretParts {
                XCTAssertFalse(NaiveMasker.contains(oneShot, part), "seed \(seed) iteration \(iteration)")
            }
        }
    }

    func testTextWithoutSecretsIsUnchanged() {
        let seed: UInt64 = 0xC1EA4
        var rng = SplitMix64(seed: seed)
        var checked = 0
        for iteration in 0..<200 {
            let secrets = (0..<Int.random(in: 1...4, using: &rng)).map { _ in randomSecret(&rng) }
            let masker = SecretMasker(secrets: secrets)
            let alphabet = Bool.random(using: &rng) ? Self.printable : Self.anyByte
            let text = rng.bytes(count: Int.random(in: 0...500, using: &rng), from: alphabet)
            let patterns = MaskingPatterns.patterns(for: secrets)
            // Random text containing a pattern by chance would be masked, rightly; skip it.
            guard !patterns.contains(where: { NaiveMasker.contains(text, $0) }) else { continue }
            checked += 1
            XCTAssertEqual(masker.mask(text), text, "seed \(seed) iteration \(iteration)")
            let chunks = rng.chunks(of: text, maxChunk: Int.random(in: 1...50, using: &rng))
            XCTAssertEqual(streamed(masker, chunks, maxHeldBack: .max), text, "seed \(seed) iteration \(iteration)")
        }
        XCTAssertGreaterThan(checked, 150)
    }

    /// Small alphabets and short patterns make overlaps, nested matches and near-misses common; the
    /// automaton (dense, mixed and sparse) and the stream must agree with the plain specification.
    func testAgreesWithNaiveMaskerOnDenseOverlaps() {
        let seed: UInt64 = 0xA40C
        var rng = SplitMix64(seed: seed)
        let alphabet = Array("abc".utf8)
        for iteration in 0..<1_000 {
            let patterns = (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                rng.bytes(count: Int.random(in: 1...6, using: &rng), from: alphabet)
            }
            let text = rng.bytes(count: Int.random(in: 0...120, using: &rng), from: alphabet + [UInt8(ascii: "x")])
            let expected = NaiveMasker.mask(text, patterns: patterns)
            // 0 bytes: only the root is dense; 64 bytes: a few dense states; default: all dense.
            let limit = [0, 64, SecretMasker.defaultDenseTableByteLimit][iteration % 3]
            let masker = SecretMasker(patterns: patterns, denseTableByteLimit: limit)
            XCTAssertEqual(masker.mask(text), expected, "seed \(seed) iteration \(iteration)")
            let chunks = rng.chunks(of: text, maxChunk: Int.random(in: 1...10, using: &rng))
            let longest = patterns.map(\.count).max() ?? 1
            XCTAssertEqual(
                streamed(masker, chunks, maxHeldBack: longest - 1), expected, "seed \(seed) iteration \(iteration)")
        }
    }
}
