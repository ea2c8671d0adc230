import LegateCore
import Crypto
import LegateCrypto
import XCTest

/// Every change to an envelope must be caught — as an authentication failure or a parse error —
/// and no input may crash the parser.
final class EnvelopeTamperTests: XCTestCase {
    let identity = SecretIdentity(scope: "acme/org/proj", name: "api-token", version: 12)
    let key = DataKey.generate()
    let value = SecretBytes(utf8: "0123456789abcdef0123456789abcdef")

    func makeEnvelope() throws -> (envelope: [UInt8], headerLength: Int) {
        let envelope = try Envelope.seal(
            value, identity: identity, connectorId: "aws-kms-prod", keyRef: "arn:aws:kms:eu-west-1:1:key/abc",
            keyVersion: 4, dataKey: key, wrappedKey: Array(repeating: 0x5A, count: 48))
        return (envelope, try Envelope.header(of: envelope).encodedCount)
    }

    /// Flips every bit of every byte, one at a time, and checks the error fits the region hit.
    func testFlippingAnyBitIsDetected() throws {
        let (envelope, headerLength) = try makeEnvelope()
        let connectorEnd = 6 + "aws-kms-prod".utf8.count
        let keyRefStart = connectorEnd + 2
        let keyRefEnd = keyRefStart + "arn:aws:kms:eu-west-1:1:key/abc".utf8.count
        var outcomes: [String: Int] = [:]
        for index in envelope.indices {
            for bit in 0..<8 {
                var tampered = envelope
                tampered[index] ^= 1 << bit
                let error = caughtError { try Envelope.open(tampered, identity: identity, dataKey: key) }
                guard let error else {
                    XCTFail("flipping bit \(bit) of byte \(index) went unnoticed")
                    continue
                }
                outcomes[error.code, default: 0] += 1
                switch index {
                case 0..<3:
                    XCTAssertEqual(error, .notAnEnvelope, "byte \(index)")
                case 3:
                    XCTAssertEqual(error, .unsupportedFormatVersion(1 ^ (1 << bit)), "byte \(index)")
                case 6..<connectorEnd, keyRefStart..<keyRefEnd:
                    // A flipped name byte is either still UTF-8 (then the AAD differs) or not.
                    XCTAssertTrue(
                        error == .authenticationFailed(identity: identity)
                            || error == .invalidField(part: index < connectorEnd ? .connectorId : .keyRef,
                                                      reason: "is not valid UTF-8"),
                        "byte \(index): \(error)")
                case keyRefEnd..<(keyRefEnd + 4), (keyRefEnd + 6)..<envelope.count:
                    // Key version, wrapped key, nonce, ciphertext and tag: only GCM can notice.
                    XCTAssertEqual(error, .authenticationFailed(identity: identity), "byte \(index)")
                default:
                    // Length prefixes: the header now ends elsewhere, so any parse or auth error.
                    break
                }
            }
        }
        XCTAssertGreaterThan(envelope.count, headerLength + 16)
        XCTAssertGreaterThan(outcomes["envelope_authentication_failed", default: 0], 0)
        XCTAssertGreaterThan(outcomes["envelope_bad_magic", default: 0], 0)
        XCTAssertGreaterThan(outcomes["envelope_unsupported_version", default: 0], 0)
    }

    /// Every proper prefix is rejected: inside the header or tag as truncated, with the tag cut
    /// into the ciphertext as an authentication failure.
    func testEveryTruncationIsRejected() throws {
        let (envelope, headerLength) = try makeEnvelope()
        for length in 0..<envelope.count {
            let prefix = Array(envelope.prefix(length))
            let error = caughtError { try Envelope.open(prefix, identity: identity, dataKey: key) }
            if length < headerLength + 16 {
                XCTAssertEqual(error?.code, "envelope_truncated", "length \(length)")
                XCTAssertEqual(caughtError { try Envelope.header(of: prefix) }?.code, "envelope_truncated")
            } else {
                XCTAssertEqual(error, .authenticationFailed(identity: identity), "length \(length)")
            }
        }
        XCTAssertEqual(
            caughtError { try Envelope.open(Array(envelope.prefix(headerLength + 15)), identity: identity, dataKey: key) },
            .truncated(part: .tag, needed: 16, available: 15))
    }

    func testExtraTrailingBytesAreRejected() throws {
        let (envelope, _) = try makeEnvelope()
        for extra in [[0x00], [0x01, 0x02], Array(repeating: UInt8(0xFF), count: 16)] as [[UInt8]] {
            XCTAssertEqual(
                caughtError { try Envelope.open(envelope + extra, identity: identity, dataKey: key) },
                .authenticationFailed(identity: identity))
        }
    }

    func testRandomBytesNeverCrashOrOpen() {
        var rng = SplitMix64(seed: 0x1E6A7E)
        for _ in 0..<2000 {
            let input = rng.bytes(Int.random(in: 0...200, using: &rng))
            XCTAssertNotNil(caughtError { try Envelope.open(input, identity: identity, dataKey: key) })
            _ = caughtError { try Envelope.header(of: input) }
        }
    }

    /// Headers that are mostly well formed with random faults (wrong lengths, non-ASCII names,
    /// garbage), so the fuzz gets past the magic and exercises every length field and the tag.
    func testRandomHeadersNeverCrashOrOpen() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        func field(_ out: inout [UInt8], maxCount: Int, ascii: Bool, rng: inout SplitMix64) {
            let count = Int.random(in: 0...maxCount, using: &rng)
            var content = rng.bytes(count)
            if ascii { content = content.map { 0x20 + $0 % 0x5F } }
            if Int.random(in: 0..<5, using: &rng) == 0 {
                out += rng.bytes(2) + content  // a length prefix that rarely matches
            } else {
                out += [UInt8(count >> 8), UInt8(count & 0xFF)] + content
            }
        }
        var parsed = 0
        for _ in 0..<3000 {
            var input: [UInt8] = [0x4C, 0x47, 0x45, 0x01]
            field(&input, maxCount: 8, ascii: Int.random(in: 0..<4, using: &rng) != 0, rng: &rng)
            field(&input, maxCount: 8, ascii: Int.random(in: 0..<4, using: &rng) != 0, rng: &rng)
            input += rng.bytes(4)
            field(&input, maxCount: 64, ascii: false, rng: &rng)
            input += rng.bytes(Int.random(in: 0...60, using: &rng))  // nonce, ciphertext, tag
            if caughtError({ try Envelope.header(of: input) }) == nil { parsed += 1 }
            XCTAssertNotNil(caughtError { try Envelope.open(input, identity: identity, dataKey: key) })
        }
        XCTAssertGreaterThan(parsed, 100, "the fuzz rarely produced a parsable header; it is not reaching deep enough")
    }

    /// Random edits (bit flips, byte writes, cuts, insertions, deletions) of a real envelope.
    func testRandomMutationsNeverCrashOrOpen() throws {
        let (envelope, _) = try makeEnvelope()
        var rng = SplitMix64(seed: 42)
        for iteration in 0..<2000 {
            var mutated = envelope
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let position = mutated.isEmpty ? 0 : Int.random(in: 0..<mutated.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0 where !mutated.isEmpty: mutated[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                case 1 where !mutated.isEmpty: mutated[position] = UInt8.random(in: .min ... .max, using: &rng)
                case 2: mutated = Array(mutated.prefix(position))
                case 3: mutated.insert(UInt8.random(in: .min ... .max, using: &rng), at: position)
                case 4 where !mutated.isEmpty: mutated.remove(at: position)
                default: break
                }
            }
            let error = caughtError { try Envelope.open(mutated, identity: identity, dataKey: key) }
            if mutated == envelope {
                XCTAssertNil(error, "iteration \(iteration): an unchanged envelope must still open")
            } else {
                XCTAssertNotNil(error, "iteration \(iteration): a changed envelope opened")
            }
        }
    }

    func testRandomTextNeverCrashes() {
        var rng = SplitMix64(seed: 7)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n!é")
        for _ in 0..<1000 {
            let text = String((0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng) ?? "A" })
            if let bytes = try? Envelope.decodeText(text) {
                XCTAssertNotNil(caughtError { try Envelope.open(bytes, identity: identity, dataKey: key) })
            }
        }
    }
}
