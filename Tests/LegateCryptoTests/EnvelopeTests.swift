import LegateCore
import Crypto
import Foundation
@testable import LegateCrypto
import XCTest

final class EnvelopeTests: XCTestCase {
    let identity = SecretIdentity(scope: "acme/payments", name: "db-password", version: 3)
    let connectorId = "builtin"
    let keyRef = "local-kek"
    // Stands in for a key manager's wrapped key; envelopes treat it as opaque bytes.
    let wrappedKey: [UInt8] = Array(repeating: 0xAB, count: 60)

    func seal(_ plaintext: SecretBytes, identity: SecretIdentity? = nil, dataKey: SymmetricKey) throws -> [UInt8] {
        try Envelope.seal(
            plaintext, identity: identity ?? self.identity, connectorId: connectorId, keyRef: keyRef, keyVersion: 7,
            dataKey: dataKey, wrappedKey: wrappedKey)
    }

    // MARK: round trips

    func roundTrip(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        let key = DataKey.generate()
        let envelope = try seal(SecretBytes(bytes), dataKey: key)
        let headerLength = try Envelope.header(of: envelope).encodedCount
        XCTAssertEqual(envelope.count, headerLength + bytes.count + 16, file: file, line: line)
        let opened = try Envelope.open(envelope, identity: identity, dataKey: key)
        XCTAssertEqual(opened.count, bytes.count, file: file, line: line)
        XCTAssertTrue(opened == SecretBytes(bytes), file: file, line: line)
    }

    func testRoundTripEmptyValue() throws { try roundTrip([]) }

    func testRoundTripOneByte() throws { try roundTrip([0x42]) }

    func testRoundTripOneMebibyte() throws {
        var rng = SplitMix64(seed: 1)
        try roundTrip(rng.bytes(1 << 20))
    }

    /// Both sides of the size at which `open` stops copying the plaintext and keeps swift-crypto's
    /// buffer, and the sizes `legate bench crypto` measures.
    func testRoundTripAcrossBufferStrategies() throws {
        var rng = SplitMix64(seed: 2)
        for count in [15, 16, 17, 18, 64, 1 << 10, 16 << 10, (1 << 20) + 3] {
            try roundTrip(rng.bytes(count))
        }
    }

    func testNonASCIINamesParse() throws {
        let key = DataKey.generate()
        let envelope = try Envelope.seal(
            SecretBytes(utf8: "v"), identity: identity, connectorId: "kms-é✓", keyRef: "clé/日本", keyVersion: 2,
            dataKey: key, wrappedKey: [1, 2, 3])
        let header = try Envelope.header(of: envelope)
        XCTAssertEqual(header.connectorId, "kms-é✓")
        XCTAssertEqual(header.keyRef, "clé/日本")
        XCTAssertEqual(header.wrappedKey, [1, 2, 3])
        XCTAssertEqual(header.encoded(), Array(envelope.prefix(header.encodedCount)))
        XCTAssertEqual(try Envelope.open(envelope, identity: identity, dataKey: key).unsafeUTF8String(), "v")
    }

    func testRoundTripText() throws {
        let key = DataKey.generate()
        let envelope = try seal(SecretBytes(utf8: "pä$$wörd ✓"), dataKey: key)
        XCTAssertEqual(try Envelope.open(envelope, identity: identity, dataKey: key).unsafeUTF8String(), "pä$$wörd ✓")
    }

    func testEachSealUsesAFreshNonceAndCiphertext() throws {
        let key = DataKey.generate()
        let value = SecretBytes(utf8: "same value")
        let a = try seal(value, dataKey: key)
        let b = try seal(value, dataKey: key)
        XCTAssertNotEqual(a, b)
        XCTAssertNotEqual(try Envelope.header(of: a).nonce, try Envelope.header(of: b).nonce)
        // Both still open: only the nonce (and so ciphertext and tag) differ.
        XCTAssertTrue(try Envelope.open(a, identity: identity, dataKey: key) == value)
        XCTAssertTrue(try Envelope.open(b, identity: identity, dataKey: key) == value)
    }

    func testEachGeneratedDataKeyIsFreshAnd256Bits() {
        let a = DataKey.generate()
        let b = DataKey.generate()
        XCTAssertEqual(a.bitCount, 256)
        XCTAssertNotEqual(a.withUnsafeBytes { Array($0) }, b.withUnsafeBytes { Array($0) })
    }

    func testTwoSecretsSealedTheUsualWayDifferInKeyNonceAndBytes() throws {
        let value = SecretBytes(utf8: "same value")
        let a = try seal(value, dataKey: DataKey.generate())
        let b = try seal(value, dataKey: DataKey.generate())
        XCTAssertNotEqual(Array(a.suffix(26)), Array(b.suffix(26)))
    }

    // MARK: layout

    /// Rebuilds an envelope byte by byte from docs/envelope.md and checks `seal` produces exactly
    /// that, so the documentation and the code cannot drift apart.
    func testBytesMatchTheDocumentedLayout() throws {
        let key = SymmetricKey(data: [UInt8](0..<32))
        let nonceBytes: [UInt8] = Array(100..<112)
        let plaintext: [UInt8] = Array("hunter2".utf8)
        let id = SecretIdentity(scope: "acct/org", name: "n", version: 2)
        let envelope = try Envelope.seal(
            SecretBytes(plaintext), identity: id, connectorId: "kms1", keyRef: "k", keyVersion: 0x0102_0304,
            dataKey: key, wrappedKey: [9, 8, 7], nonce: try AES.GCM.Nonce(data: nonceBytes))

        var header: [UInt8] = [0x4C, 0x47, 0x45, 0x01]  // "LGE", version 1
        header += [0x00, 0x04] + Array("kms1".utf8)
        header += [0x00, 0x01] + Array("k".utf8)
        header += [0x01, 0x02, 0x03, 0x04]
        header += [0x00, 0x03, 9, 8, 7]
        header += nonceBytes
        var identityBytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 8] + Array("acct/org".utf8)
        identityBytes += [0, 0, 0, 0, 0, 0, 0, 1] + Array("n".utf8)
        identityBytes += [0, 0, 0, 0, 0, 0, 0, 2]
        XCTAssertEqual(id.encoded(), identityBytes)

        let box = try AES.GCM.seal(
            plaintext, using: key, nonce: try AES.GCM.Nonce(data: nonceBytes), authenticating: header + identityBytes)
        XCTAssertEqual(hexString(envelope), hexString(header + Array(box.ciphertext) + Array(box.tag)))

        let parsed = try Envelope.header(of: envelope)
        XCTAssertEqual(parsed.encoded(), header)
        XCTAssertEqual(parsed.encodedCount, header.count)

        // The same envelope computed independently (Python `cryptography`, from the layout in
        // docs/envelope.md), so the format is pinned even if both sides above changed together.
        let known = """
            4c474501 00046b6d7331 00016b 01020304 0003090807 6465666768696a6b6c6d6e6f
            206eb0121c9b64 55bb4b8cd5f7677bb382e8011998577e
            """
        XCTAssertEqual(hexString(envelope), hexString(try XCTUnwrap(hexBytes(known))))
        XCTAssertEqual(
            Envelope.encodeText(envelope), "TEdFAQAEa21zMQABawECAwQAAwkIB2RlZmdoaWprbG1ubyBusBIcm2RVu0uM1fdne7OC6AEZmFd+")
        XCTAssertEqual(try Envelope.open(envelope, identity: id, dataKey: key).unsafeUTF8String(), "hunter2")
    }

    func testHeaderOfReportsTheRoutingFields() throws {
        let envelope = try seal(SecretBytes(utf8: "v"), dataKey: DataKey.generate())
        let header = try Envelope.header(of: envelope)
        XCTAssertEqual(header.formatVersion, 1)
        XCTAssertEqual(header.connectorId, connectorId)
        XCTAssertEqual(header.keyRef, keyRef)
        XCTAssertEqual(header.keyVersion, 7)
        XCTAssertEqual(header.wrappedKey, wrappedKey)
        XCTAssertEqual(header.nonce.count, 12)
    }

    func testFieldLimitsAreEnforcedOnSeal() throws {
        let key = DataKey.generate()
        let value = SecretBytes(utf8: "v")
        func attempt(connector: String = "c", ref: String = "k", wrapped: [UInt8] = [1]) -> EnvelopeError? {
            caughtError {
                try Envelope.seal(
                    value, identity: identity, connectorId: connector, keyRef: ref, keyVersion: 1, dataKey: key,
                    wrappedKey: wrapped)
            }
        }
        let longest = String(repeating: "x", count: 255)
        XCTAssertNil(attempt(connector: longest, ref: longest, wrapped: Array(repeating: 1, count: 4096)))
        XCTAssertEqual(attempt(connector: longest + "x"), .fieldTooLong(part: .connectorId, length: 256, limit: 255))
        XCTAssertEqual(attempt(ref: longest + "x"), .fieldTooLong(part: .keyRef, length: 256, limit: 255))
        XCTAssertEqual(
            attempt(wrapped: Array(repeating: 1, count: 4097)),
            .fieldTooLong(part: .wrappedKey, length: 4097, limit: 4096))
        XCTAssertEqual(attempt(connector: "")?.code, "envelope_invalid_field")
        XCTAssertEqual(attempt(ref: "")?.code, "envelope_invalid_field")
        XCTAssertEqual(attempt(wrapped: [])?.code, "envelope_invalid_field")
        // The limit counts UTF-8 bytes, not characters: 128 two-byte characters are 256 bytes.
        XCTAssertEqual(
            attempt(connector: String(repeating: "é", count: 128)),
            .fieldTooLong(part: .connectorId, length: 256, limit: 255))
    }

    // MARK: failures to open

    func testWrongIdentityFailsWithAClearMessage() throws {
        let key = DataKey.generate()
        let envelope = try seal(SecretBytes(utf8: "s3cr3t-value"), dataKey: key)
        let others = [
            SecretIdentity(scope: "acme", name: identity.name, version: identity.version),
            SecretIdentity(scope: identity.scope, name: "db-password2", version: identity.version),
            SecretIdentity(scope: identity.scope, name: identity.name, version: identity.version + 1),
            SecretIdentity(scope: identity.scope, name: identity.name, version: identity.version - 1),
            // Moving bytes between scope and name must not produce the same AAD.
            SecretIdentity(scope: "acme/payments/", name: "b-password", version: 3),
        ]
        for other in others {
            let error = caughtError { try Envelope.open(envelope, identity: other, dataKey: key) }
            XCTAssertEqual(error, .authenticationFailed(identity: other), "\(other)")
            let message = error?.message ?? ""
            XCTAssertTrue(
                message.contains(
                    "the ciphertext, its header or the secret identity (scope/name/version) does not match"), message)
            XCTAssertTrue(message.contains(String(reflecting: other.scope)), message)
            XCTAssertTrue(message.contains(String(reflecting: other.name)), message)
            XCTAssertTrue(message.contains("version \(other.version)"), message)
            XCTAssertFalse(message.contains("s3cr3t"), message)
            XCTAssertEqual(error?.code, "envelope_authentication_failed")
        }
    }

    func testWrongDataKeyFails() throws {
        let envelope = try seal(SecretBytes(utf8: "v"), dataKey: DataKey.generate())
        XCTAssertEqual(
            caughtError { try Envelope.open(envelope, identity: identity, dataKey: DataKey.generate()) },
            .authenticationFailed(identity: identity))
    }

    func testDataKeysOfTheWrongSizeAreRejected() throws {
        let envelope = try seal(SecretBytes(utf8: "v"), dataKey: DataKey.generate())
        for bits in [128, 192, 512] {
            let key = SymmetricKey(size: SymmetricKeySize(bitCount: bits))
            XCTAssertEqual(
                caughtError { try Envelope.open(envelope, identity: identity, dataKey: key) },
                .wrongDataKeySize(bytes: bits / 8))
            XCTAssertEqual(
                caughtError {
                    try Envelope.seal(
                        SecretBytes(utf8: "v"), identity: identity, connectorId: "c", keyRef: "k", keyVersion: 1,
                        dataKey: key, wrappedKey: [1])
                },
                .wrongDataKeySize(bytes: bits / 8))
        }
    }

    func testASwappedHeaderFailsToOpen() throws {
        let keyA = DataKey.generate()
        let keyB = DataKey.generate()
        let a = try seal(SecretBytes(utf8: "value-a"), dataKey: keyA)
        let b = try seal(SecretBytes(utf8: "value-b"), dataKey: keyB)
        let headerLength = try Envelope.header(of: a).encodedCount
        XCTAssertEqual(try Envelope.header(of: b).encodedCount, headerLength)
        let spliced = Array(b.prefix(headerLength)) + Array(a.dropFirst(headerLength))
        XCTAssertEqual(
            caughtError { try Envelope.open(spliced, identity: identity, dataKey: keyA) },
            .authenticationFailed(identity: identity))
        XCTAssertEqual(
            caughtError { try Envelope.open(spliced, identity: identity, dataKey: keyB) },
            .authenticationFailed(identity: identity))

        // Same data key for both, so only the header binding can catch it.
        let c = try seal(SecretBytes(utf8: "value-c"), dataKey: keyA)
        let spliced2 = Array(c.prefix(headerLength)) + Array(a.dropFirst(headerLength))
        XCTAssertEqual(
            caughtError { try Envelope.open(spliced2, identity: identity, dataKey: keyA) },
            .authenticationFailed(identity: identity))
    }

    func testAHeaderEditedToAnotherConnectorOrKeyVersionFails() throws {
        let key = DataKey.generate()
        let value = SecretBytes(utf8: "v")
        let original = try seal(value, dataKey: key)
        let header = try Envelope.header(of: original)
        let body = Array(original.dropFirst(header.encodedCount))
        let edits = [
            try EnvelopeHeader(
                connectorId: "other", keyRef: header.keyRef, keyVersion: header.keyVersion,
                wrappedKey: header.wrappedKey, nonce: header.nonce),
            try EnvelopeHeader(
                connectorId: header.connectorId, keyRef: header.keyRef, keyVersion: header.keyVersion + 1,
                wrappedKey: header.wrappedKey, nonce: header.nonce),
        ]
        for edited in edits {
            XCTAssertEqual(
                caughtError { try Envelope.open(edited.encoded() + body, identity: identity, dataKey: key) },
                .authenticationFailed(identity: identity))
        }
        // Control: re-encoding the unchanged header gives a working envelope.
        XCTAssertTrue(try Envelope.open(header.encoded() + body, identity: identity, dataKey: key) == value)
    }

    func testUnknownFormatVersionsAreNamed() throws {
        let key = DataKey.generate()
        var envelope = try seal(SecretBytes(utf8: "v"), dataKey: key)
        for version: UInt8 in [0, 2, 0x7F, 0xFF] {
            envelope[3] = version
            let error = caughtError { try Envelope.open(envelope, identity: identity, dataKey: key) }
            XCTAssertEqual(error, .unsupportedFormatVersion(version))
            XCTAssertEqual(caughtError { try Envelope.header(of: envelope) }, .unsupportedFormatVersion(version))
            XCTAssertTrue(error?.message.contains("format version \(version)") ?? false, error?.message ?? "")
        }
    }

    func testNonEnvelopesAreRecognised() {
        for text in ["{\"value\":1}", "hunter2", "lge\u{1}", "LGX"] {
            XCTAssertEqual(caughtError { try Envelope.header(of: Array(text.utf8)) }, .notAnEnvelope, text)
        }
        XCTAssertEqual(caughtError { try Envelope.header(of: [0x4C, 0x47]) }, .truncated(part: .magic, needed: 3, available: 2))
        XCTAssertEqual(caughtError { try Envelope.header(of: []) }, .truncated(part: .magic, needed: 3, available: 0))
    }

    func testLengthPrefixesOverTheLimitAreReportedAsTooLong() {
        // "LGE" 1, connector id length 0x0100 = 256.
        XCTAssertEqual(
            caughtError { try Envelope.header(of: [0x4C, 0x47, 0x45, 0x01, 0x01, 0x00]) },
            .fieldTooLong(part: .connectorId, length: 256, limit: 255))
        let prefix: [UInt8] = [0x4C, 0x47, 0x45, 0x01, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62, 0, 0, 0, 1]
        XCTAssertEqual(
            caughtError { try Envelope.header(of: prefix + [0xFF, 0xFF]) },
            .fieldTooLong(part: .wrappedKey, length: 65535, limit: 4096))
        XCTAssertEqual(
            caughtError { try Envelope.header(of: prefix + [0x00, 0x00]) },
            .invalidField(part: .wrappedKey, reason: "is empty"))
    }

    func testNonUTF8NamesAreRejected() throws {
        let envelope = try seal(SecretBytes(utf8: "v"), dataKey: DataKey.generate())
        var corrupt = envelope
        corrupt[6] = 0xFF  // first byte of the connector id
        XCTAssertEqual(
            caughtError { try Envelope.header(of: corrupt) },
            .invalidField(part: .connectorId, reason: "is not valid UTF-8"))
    }

    // MARK: text form

    func testTextFormRoundTrips() throws {
        let key = DataKey.generate()
        let envelope = try seal(SecretBytes(utf8: "v"), dataKey: key)
        let text = Envelope.encodeText(envelope)
        XCTAssertTrue(text.allSatisfy { $0.isASCII && !$0.isWhitespace })
        XCTAssertEqual(try Envelope.decodeText(text), envelope)
        XCTAssertEqual(try Envelope.open(Envelope.decodeText(text), identity: identity, dataKey: key).unsafeUTF8String(), "v")
        // JSON storage is the intended use.
        let json = try JSONEncoder().encode(["envelope": text])
        let decoded = try JSONDecoder().decode([String: String].self, from: json)
        XCTAssertEqual(try Envelope.decodeText(decoded["envelope"] ?? ""), envelope)
    }

    func testInvalidTextIsRejected() {
        for text in ["not base64!", "TEdF=A", "@@@@", "TEdFAQ"] {
            XCTAssertEqual(caughtError { try Envelope.decodeText(text) }, .invalidText, text)
        }
        XCTAssertEqual(try Envelope.decodeText(""), [])
    }

    // MARK: errors

    /// Compile-time check that the parsing and opening API throws only `EnvelopeError`, so
    /// callers can switch over the cases without a catch-all.
    func testTheAPIThrowsTypedErrors() {
        let open: ([UInt8], SecretIdentity, SymmetricKey) throws(EnvelopeError) -> SecretBytes = Envelope.open
        let header: ([UInt8]) throws(EnvelopeError) -> EnvelopeHeader = Envelope.header(of:)
        let decode: (String) throws(EnvelopeError) -> [UInt8] = Envelope.decodeText
        do {
            _ = try header(try decode(""))
            XCTFail("an empty envelope must not parse")
        } catch {
            XCTAssertEqual(error, .truncated(part: .magic, needed: 3, available: 0))
        }
        _ = open
    }

    func testEveryErrorCaseHasADistinctCodeAndASafeMessage() {
        let id = SecretIdentity(scope: "s", name: "n", version: 1)
        let all: [EnvelopeError] = [
            .truncated(part: .tag, needed: 16, available: 3),
            .notAnEnvelope,
            .unsupportedFormatVersion(9),
            .fieldTooLong(part: .keyRef, length: 300, limit: 255),
            .invalidField(part: .connectorId, reason: "is empty"),
            .authenticationFailed(identity: id),
            .wrongDataKeySize(bytes: 16),
            .wrongKeyEncryptionKeySize(bytes: 16),
            .invalidWrappedKey(length: 3, expected: 60),
            .unwrapFailed(identity: id, keyRef: "k", keyVersion: 1),
            .invalidText,
            .cryptoFailure(operation: "seal"),
        ]
        XCTAssertEqual(Set(all.map(\.code)).count, all.count)
        for error in all {
            XCTAssertFalse(error.message.isEmpty)
            XCTAssertTrue(error.description.hasSuffix("[\(error.code)]"))
            XCTAssertEqual(error.persistence, .permanent)
        }
    }
}
