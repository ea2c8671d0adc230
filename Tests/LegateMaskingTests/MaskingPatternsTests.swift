import LegateCore
import Foundation
import XCTest

@testable import LegateMasking

final class MaskingPatternsTests: XCTestCase {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    /// The characters of base64(prefix + secret + suffix) that depend only on secret bytes, computed
    /// from Foundation's encoder rather than from our own.
    private func foundationBase64Core(prefix: [UInt8], secret: [UInt8], suffix: [UInt8]) -> [UInt8] {
        let encoded = Array(Data(prefix + secret + suffix).base64EncodedString().utf8)
        let first = (8 * prefix.count + 5) / 6
        let end = 8 * (prefix.count + secret.count) / 6
        return Array(encoded[first..<end])
    }

    func testBase64FormsMatchFoundationForEveryAlignment() {
        var rng = SplitMix64(seed: 1)
        for length in 1...20 {
            let secret = rng.bytes(count: length, from: Array(0...255))
            let forms = MaskingPatterns.base64Forms(of: secret)
            for prefixLength in 0..<6 {
                let prefix = rng.bytes(count: prefixLength, from: Array(0...255))
                let suffix = rng.bytes(count: Int.random(in: 0...3, using: &rng), from: Array(0...255))
                let core = foundationBase64Core(prefix: prefix, secret: secret, suffix: suffix)
                guard !core.isEmpty else { continue }
                XCTAssertTrue(
                    forms.contains(core),
                    "length \(length), prefix \(prefixLength): \(String(decoding: core, as: UTF8.self))"
                )
            }
        }
    }

    func testBase64URLFormsUseURLAlphabet() {
        // 0xFB 0xFF 0xBF encodes to "+/+/" in the standard alphabet.
        let secret: [UInt8] = [0xFB, 0xFF, 0xBF, 0xFB, 0xFF, 0xBF]
        let forms = MaskingPatterns.base64Forms(of: secret)
        XCTAssertTrue(forms.contains(bytes("+/+/+/+/")))
        XCTAssertTrue(forms.contains(bytes("-_-_-_-_")))
    }

    func testShortValuesProduceNoPatterns() {
        XCTAssertTrue(MaskingPatterns.isTooShortToMask("abc"))
        XCTAssertTrue(MaskingPatterns.isTooShortToMask(""))
        XCTAssertTrue(MaskingPatterns.isTooShortToMask("ab\n"))
        XCTAssertTrue(MaskingPatterns.isTooShortToMask("  ab  "))
        XCTAssertFalse(MaskingPatterns.isTooShortToMask("abcd"))
        XCTAssertFalse(MaskingPatterns.isTooShortToMask([0, 1, 2, 3]))
        XCTAssertTrue(MaskingPatterns.isTooShortToMask("abcdef", minimumLength: 8))
        XCTAssertEqual(MaskingPatterns.patterns(for: bytes("abc")), [])
        XCTAssertEqual(MaskingPatterns.patterns(for: bytes("   \n\n  ")), [])
        XCTAssertFalse(MaskingPatterns.patterns(for: bytes("abcd")).isEmpty)
    }

    func testNoPatternIsShorterThanTheMinimumAndNoneRepeats() {
        var rng = SplitMix64(seed: 2)
        for _ in 0..<50 {
            let secret = rng.bytes(count: Int.random(in: 4...30, using: &rng), from: Array(0...255))
            let patterns = MaskingPatterns.patterns(for: [secret, secret], minimumLength: 5)
            XCTAssertTrue(patterns.allSatisfy { $0.count >= 5 })
            XCTAssertEqual(Set(patterns).count, patterns.count)
            if !MaskingPatterns.isTooShortToMask(secret, minimumLength: 5) {
                XCTAssertEqual(patterns.first, secret, "the raw value comes first")
            } else {
                XCTAssertEqual(patterns, [])
            }
        }
    }

    func testPercentFormsIncludeFoundationEncodings() {
        let secret = "p@ss w/rd&x=1%+~!'*"
        let forms = MaskingPatterns.percentEncodedForms(of: bytes(secret))
        for allowed in [CharacterSet.alphanumerics, .urlQueryAllowed, .urlPathAllowed, .urlPasswordAllowed] {
            let encoded = secret.addingPercentEncoding(withAllowedCharacters: allowed)
            XCTAssertNotNil(encoded)
            XCTAssertTrue(forms.contains(bytes(encoded ?? "")), encoded ?? "")
        }
        XCTAssertTrue(forms.contains(bytes("p%40ss+w%2Frd%26x%3D1%25%2B~%21%27%2A")), "form encoding with +")
        XCTAssertTrue(forms.contains(bytes("p%40ss%20w%2frd%26x%3d1%25%2b~%21%27%2a")), "lower-case hex")
    }

    func testJSONFormsIncludeFoundationEncodings() throws {
        let secret = "a\"b\\c/d\ne\rf\tg\u{01}h</é>"
        let forms = MaskingPatterns.jsonEscapedForms(of: bytes(secret))
        func body(_ data: Data) -> [UInt8] { Array(Array(data).dropFirst().dropLast()) }
        XCTAssertTrue(forms.contains(body(try JSONEncoder().encode(secret))))
        let noSlashes = JSONEncoder()
        noSlashes.outputFormatting = .withoutEscapingSlashes
        XCTAssertTrue(forms.contains(body(try noSlashes.encode(secret))))
        XCTAssertTrue(forms.contains(bytes(#"a\"b\\c/d\ne\rf\tg\u0001h</\u00e9>"#)), "Python")
        XCTAssertTrue(forms.contains(bytes(#"a\"b\\c/d\ne\rf\tg\u0001h\u003c/é\u003e"#)), "Go")
    }

    func testShellForms() {
        let forms = MaskingPatterns.shellQuotedForms(of: bytes("it's a $ecret"))
        XCTAssertTrue(forms.contains(bytes(#"it'\''s a $ecret"#)))
        XCTAssertTrue(forms.contains(bytes(#"it'"'"'s a $ecret"#)))
        XCTAssertTrue(forms.contains(bytes(#"it's a \$ecret"#)))
        XCTAssertTrue(forms.contains(bytes(#"it\'s\ a\ \$ecret"#)))
        XCTAssertEqual(MaskingPatterns.shellQuotedForms(of: bytes("plain-token_123")), [])
        XCTAssertTrue(MaskingPatterns.shellQuotedForms(of: bytes("a\tb'c")).contains(bytes(#"a\tb\'c"#)))
    }

    func testLineFormsSkipShortLinesAndPEMArmour() {
        let value = bytes("-----BEGIN KEY-----\r\nMIIEabcdefgh\r\n  indented-line  \n  },\nxy\n-----END KEY-----\n")
        let lines = MaskingPatterns.lineForms(of: value)
        XCTAssertEqual(
            lines,
            [bytes("MIIEabcdefgh"), bytes("  indented-line  "), bytes("indented-line")]
        )
        XCTAssertEqual(MaskingPatterns.lineForms(of: bytes("single-line")), [])
        XCTAssertEqual(MaskingPatterns.lineForms(of: bytes("token-value\n")), [bytes("token-value")])
    }

    func testLargeValuesGetOnlyRawBase64AndLineForms() {
        let big = [UInt8](repeating: UInt8(ascii: "/"), count: MaskingPatterns.maximumEscapedFormLength + 1)
        let patterns = MaskingPatterns.patterns(for: big)
        XCTAssertEqual(patterns.first, big)
        XCTAssertEqual(patterns.count, 1 + MaskingPatterns.base64Forms(of: big).count)
    }
}
