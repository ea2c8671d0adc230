import LegateCore
import Foundation
import XCTest

@testable import LegateMasking

/// Each way a task can leak a secret, produced with a real encoder, must come out masked.
final class EncodedLeakTests: XCTestCase {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    func testRawValueIsMasked() {
        let masker = SecretMasker(secrets: ["hunter2-password"])
        XCTAssertEqual(masker.mask("token=hunter2-password!"), "token=***!")
        XCTAssertEqual(masker.mask("hunter2-password"), "***")
        XCTAssertEqual(masker.mask("hunter2-passwor"), "hunter2-passwor", "a prefix alone is not the secret")
    }

    func testBase64OfPrefixSecretSuffixIsMaskedForEveryPrefixLength() {
        let secret = "s3cr3t-V@lue"
        let masker = SecretMasker(secrets: [secret])
        for prefix in ["", "a", "ab", "abc", "abcd", "abcde"] {
            for suffix in ["", "\n", "x", "xy", "xyz"] {
                let leak = Data((prefix + secret + suffix).utf8).base64EncodedString()
                // Characters whose bits all come from the secret must go; the rest stay.
                let first = (8 * prefix.utf8.count + 5) / 6
                let end = 8 * (prefix.utf8.count + secret.utf8.count) / 6
                let chars = Array(leak)
                let expected = String(chars[..<first]) + "***" + String(chars[end...])
                XCTAssertEqual(masker.mask(leak), expected, "prefix \(prefix.count), suffix \(suffix.count)")
                XCTAssertEqual(masker.mask("Authorization: Basic \(leak)"), "Authorization: Basic \(expected)")
            }
        }
    }

    func testBase64URLIsMasked() {
        // '>' and '?' bytes make the standard encoding contain '+' and '/'.
        let secret = "k>?>?>?>?-key"
        let standard = Data(("u:" + secret).utf8).base64EncodedString()
        XCTAssertTrue(standard.contains("+") || standard.contains("/"), "the test needs URL-alphabet characters")
        let url = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        // "u:" puts the secret at alignment 2: characters 3 up to 8 * 15 / 6 depend on it alone.
        let chars = Array(url)
        let expected = "jwt=" + String(chars[..<3]) + "***" + String(chars[20...]) + ";"
        XCTAssertEqual(SecretMasker(secrets: [secret]).mask("jwt=\(url);"), expected)
    }

    func testURLEncodedIsMasked() throws {
        let secret = "p@ss w/rd&x=1%+~"
        let masker = SecretMasker(secrets: [secret])
        for allowed in [CharacterSet.alphanumerics, .urlQueryAllowed, .urlPasswordAllowed] {
            let encoded = try XCTUnwrap(secret.addingPercentEncoding(withAllowedCharacters: allowed))
            XCTAssertNotEqual(encoded, secret)
            XCTAssertEqual(masker.mask("https://host/cb?pw=\(encoded)&next=1"), "https://host/cb?pw=***&next=1")
        }
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "pw", value: secret)]
        XCTAssertEqual(masker.mask(try XCTUnwrap(components.percentEncodedQuery)), "pw=***")
        XCTAssertEqual(masker.mask("pw=p%40ss+w%2Frd%26x%3D1%25%2B~"), "pw=***", "form encoding")
    }

    func testJSONEncodedIsMasked() throws {
        struct Payload: Encodable { let token: String }
        let secret = "a \"quoted\" back\\slash/and\nnewline"
        let masker = SecretMasker(secrets: [secret])
        let plain = JSONEncoder()
        let noSlashes = JSONEncoder()
        noSlashes.outputFormatting = .withoutEscapingSlashes
        for encoder in [plain, noSlashes] {
            let json = String(decoding: try encoder.encode(Payload(token: secret)), as: UTF8.self)
            XCTAssertTrue(json.contains(#"\""#) && json.contains(#"\\"#) && json.contains(#"\n"#))
            XCTAssertEqual(masker.mask(json), #"{"token":"***"}"#)
        }
        let serialized = try JSONSerialization.data(withJSONObject: ["token": secret])
        XCTAssertEqual(masker.mask(String(decoding: serialized, as: UTF8.self)), #"{"token":"***"}"#)
    }

    func testShellQuotedIsMasked() {
        let secret = "it's a $ecret"
        let masker = SecretMasker(secrets: [secret])
        XCTAssertEqual(masker.mask(#"+ curl -u 'admin:it'\''s a $ecret' https://x"#), "+ curl -u 'admin:***' https://x")
        XCTAssertEqual(masker.mask(#"run --pw 'it'"'"'s a $ecret'"#), "run --pw '***'")
        XCTAssertEqual(masker.mask(#"export PW="it's a \$ecret""#), #"export PW="***""#)
        XCTAssertEqual(masker.mask(#"printf: it\'s\ a\ \$ecret"#), "printf: ***")
    }

    private let pemKey = """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj
        MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu
        NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ
        -----END PRIVATE KEY-----

        """

    func testMultiLineSecretIsMaskedWholeLineByLineAndAsJSON() throws {
        let masker = SecretMasker(secrets: [pemKey])
        XCTAssertEqual(masker.mask("key:\n" + pemKey + "done"), "key:\n***done")

        // Printed line by line with a prefix on every line.
        let lines = pemKey.split(separator: "\n").map { "[task] \($0)" }.joined(separator: "\n")
        let maskedLines = masker.mask(lines).split(separator: "\n").map(String.init)
        XCTAssertEqual(
            maskedLines,
            [
                "[task] -----BEGIN PRIVATE KEY-----", "[task] ***", "[task] ***", "[task] ***",
                "[task] -----END PRIVATE KEY-----",
            ]
        )

        // JSON-encoded: the whole key becomes one line with \n escapes (and \/ from JSONEncoder).
        struct Payload: Encodable { let key: String }
        let json = String(decoding: try JSONEncoder().encode(Payload(key: pemKey)), as: UTF8.self)
        XCTAssertTrue(json.contains(#"\n"#) && json.contains(#"\/"#))
        XCTAssertEqual(masker.mask(json), #"{"key":"***"}"#)

        // A different certificate keeps its public armour lines.
        let other = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        XCTAssertEqual(masker.mask(other), other)
    }

    func testCRLFMultiLineSecretIsMaskedLineByLine() {
        let secret = "first-line-value\r\nsecond-line-value\r\n"
        let masker = SecretMasker(secrets: [secret])
        XCTAssertEqual(masker.mask("a first-line-value b\nc second-line-value d"), "a *** b\nc *** d")
        XCTAssertEqual(masker.mask(#"{"v":"first-line-value\r\nsecond-line-value\r\n"}"#), #"{"v":"***"}"#)
    }

    func testFileSecretWithBinaryContentIsMasked() {
        var rng = SplitMix64(seed: 7)
        let content = rng.bytes(count: 300, from: Array(0...255))
        let masker = SecretMasker(secrets: [content])
        let raw = bytes("<<") + content + bytes(">>")
        XCTAssertEqual(masker.mask(raw), bytes("<<***>>"))
        let encoded = Data(bytes("data: ") + content).base64EncodedString(options: [])
        let masked = masker.mask(encoded)
        XCTAssertFalse(NaiveMasker.contains(bytes(masked), Array(bytes(encoded)[20..<380])))
        XCTAssertLessThan(masked.utf8.count, 20)
    }

    func testShortSecretsAreNotMasked() {
        let masker = SecretMasker(secrets: ["abc", "no", "x", "ab\n"])
        XCTAssertTrue(masker.isEmpty)
        let text = "abc abcabc no x ab\n YWJj"
        XCTAssertEqual(masker.mask(text), text)
        // Exactly at the minimum, it is masked.
        XCTAssertEqual(SecretMasker(secrets: ["abcd"]).mask("xabcdx"), "x***x")
    }

    func testOverlappingAndAdjacentOccurrencesMergeIntoOneMask() {
        let masker = SecretMasker(secrets: ["secret-one", "one-two!"])
        XCTAssertEqual(masker.mask("[secret-one-two!]"), "[***]")
        XCTAssertEqual(masker.mask("[secret-onesecret-one]"), "[***]")
        XCTAssertEqual(masker.mask("[secret-one secret-one]"), "[*** ***]")
    }

    func testTextWithoutSecretsIsUnchanged() {
        let masker = SecretMasker(secrets: ["correct horse battery staple"])
        let text = "correct horse battery stapl, correct horse, ***, \u{00e9}\u{1F600}\n"
        XCTAssertEqual(masker.mask(text), text)
        XCTAssertEqual(SecretMasker.empty.mask(text), text)
    }

    func testReplacementCanBeChanged() {
        let masker = SecretMasker(secrets: ["swordfish"], replacement: "[MASKED]")
        XCTAssertEqual(masker.mask("pw=swordfish"), "pw=[MASKED]")
    }

    func testDescriptionDoesNotRevealSecrets() {
        let masker = SecretMasker(secrets: ["swordfish"])
        var stream = masker.makeStream()
        _ = stream.process(Array("sword".utf8))
        for text in ["\(masker)", String(reflecting: masker), "\(stream)", String(reflecting: stream)] {
            XCTAssertFalse(text.contains("sword"), text)
        }
        var dumped = ""
        dump(stream, to: &dumped)
        XCTAssertFalse(dumped.contains("115"), "no raw bytes in dump: \(dumped)")
    }
}
