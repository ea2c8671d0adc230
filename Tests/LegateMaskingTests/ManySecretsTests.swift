import LegateCore
import Foundation
import XCTest

@testable import LegateMasking

final class ManySecretsTests: XCTestCase {
    private static let tokenAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!@#$%^&/+=".utf8)

    func testAThousandSecretsCompileAndMask() {
        var rng = SplitMix64(seed: 1_000)
        let secrets = (0..<1_000).map { _ in
            rng.bytes(count: Int.random(in: 12...48, using: &rng), from: Self.tokenAlphabet)
        }
        let masker = SecretMasker(secrets: secrets)
        XCTAssertGreaterThan(masker.patternCount, 1_000)
        // A mixed configuration: shallow states dense, deep ones sparse.
        let sparse = SecretMasker(secrets: secrets, denseTableByteLimit: 0)

        var input: [UInt8] = []
        var leaked: [[UInt8]] = []
        let filler = Array("abcdefghijklmnopqrstuvwxyz ,:\n".utf8)
        for index in stride(from: 0, to: secrets.count, by: 7) {
            input += rng.bytes(count: Int.random(in: 1...30, using: &rng), from: filler)
            let secret = secrets[index]
            switch index % 3 {
            case 0:
                input += secret
                leaked.append(secret)
            case 1:
                let encoded = Array(Data(Array("user:".utf8) + secret).base64EncodedString().utf8)
                input += encoded
                leaked.append(Array(encoded[7..<(8 * (5 + secret.count) / 6)]))
            default:
                let encoded = Array(
                    (String(decoding: secret, as: UTF8.self).addingPercentEncoding(withAllowedCharacters: .alphanumerics)
                        ?? "").utf8)
                input += encoded
                leaked.append(encoded)
            }
        }
        let masked = masker.mask(input)
        for part in leaked {
            XCTAssertFalse(NaiveMasker.contains(masked, part), String(decoding: part, as: UTF8.self))
        }
        XCTAssertEqual(sparse.mask(input), masked, "dense and sparse automata agree")

        var stream = masker.makeStream()
        var streamed: [UInt8] = []
        var offset = 0
        while offset < input.count {
            let end = min(input.count, offset + 1 + offset % 97)
            streamed += stream.process(Array(input[offset..<end]))
            offset = end
        }
        XCTAssertEqual(streamed + stream.finish(), masked)

        // Filler text alone contains none of the secrets' forms, and must come out unchanged.
        let plain = rng.bytes(count: 20_000, from: filler)
        XCTAssertEqual(masker.mask(plain), plain)
        XCTAssertEqual(sparse.mask(plain), plain)
    }
}
