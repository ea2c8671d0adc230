import Crypto
import LegateCrypto
import XCTest

final class KeyWrapperTests: XCTestCase {
    let identity = SecretIdentity(scope: "acme", name: "token", version: 1)

    func keyBytes(_ key: SymmetricKey) -> [UInt8] { key.withUnsafeBytes { Array($0) } }

    func testRoundTrip() throws {
        let wrapper = try KeyWrapper(keyEncryptionKey: DataKey.generate())
        let dataKey = DataKey.generate()
        let wrapped = try wrapper.wrap(dataKey, identity: identity, keyRef: "builtin", keyVersion: 1)
        XCTAssertEqual(wrapped.count, 60)
        XCTAssertEqual(KeyWrapper.wrappedKeyByteCount, 60)
        let unwrapped = try wrapper.unwrap(wrapped, identity: identity, keyRef: "builtin", keyVersion: 1)
        XCTAssertEqual(keyBytes(unwrapped), keyBytes(dataKey))
        // The wrapped form does not contain the data key in the clear.
        XCTAssertNil(wrapped.firstRange(of: keyBytes(dataKey).prefix(8)))
    }

    func testEachWrapUsesAFreshNonce() throws {
        let wrapper = try KeyWrapper(keyEncryptionKey: DataKey.generate())
        let dataKey = DataKey.generate()
        let a = try wrapper.wrap(dataKey, identity: identity, keyRef: "builtin", keyVersion: 1)
        let b = try wrapper.wrap(dataKey, identity: identity, keyRef: "builtin", keyVersion: 1)
        XCTAssertNotEqual(a, b)
        XCTAssertNotEqual(Array(a.prefix(12)), Array(b.prefix(12)))
    }

    func testUnwrapFailsForAnythingThatDiffers() throws {
        let kek = DataKey.generate()
        let wrapper = try KeyWrapper(keyEncryptionKey: kek)
        let wrapped = try wrapper.wrap(DataKey.generate(), identity: identity, keyRef: "builtin", keyVersion: 1)
        let other = SecretIdentity(scope: "acme", name: "token", version: 2)
        let cases: [(KeyWrapper, SecretIdentity, String, UInt32)] = [
            (try KeyWrapper(keyEncryptionKey: DataKey.generate()), identity, "builtin", 1),
            (wrapper, other, "builtin", 1),
            (wrapper, SecretIdentity(scope: "acme/x", name: "token", version: 1), "builtin", 1),
            (wrapper, identity, "builtin2", 1),
            (wrapper, identity, "builtin", 2),
        ]
        for (w, id, ref, version) in cases {
            XCTAssertEqual(
                caughtError { try w.unwrap(wrapped, identity: id, keyRef: ref, keyVersion: version) },
                .unwrapFailed(identity: id, keyRef: ref, keyVersion: version))
        }
        XCTAssertNoThrow(try wrapper.unwrap(wrapped, identity: identity, keyRef: "builtin", keyVersion: 1))
    }

    func testEveryTamperedBitIsDetected() throws {
        let wrapper = try KeyWrapper(keyEncryptionKey: DataKey.generate())
        let wrapped = try wrapper.wrap(DataKey.generate(), identity: identity, keyRef: "builtin", keyVersion: 1)
        for index in wrapped.indices {
            for bit in 0..<8 {
                var tampered = wrapped
                tampered[index] ^= 1 << bit
                XCTAssertEqual(
                    caughtError { try wrapper.unwrap(tampered, identity: identity, keyRef: "builtin", keyVersion: 1) },
                    .unwrapFailed(identity: identity, keyRef: "builtin", keyVersion: 1), "byte \(index) bit \(bit)")
            }
        }
    }

    func testWrongLengthsAndKeySizesAreRejected() throws {
        let wrapper = try KeyWrapper(keyEncryptionKey: DataKey.generate())
        let wrapped = try wrapper.wrap(DataKey.generate(), identity: identity, keyRef: "builtin", keyVersion: 1)
        for length in [0, 1, 12, 28, 59, 61, 200] {
            let input = Array((wrapped + wrapped + wrapped + wrapped).prefix(length))
            XCTAssertEqual(
                caughtError { try wrapper.unwrap(input, identity: identity, keyRef: "builtin", keyVersion: 1) },
                .invalidWrappedKey(length: length, expected: 60))
        }
        XCTAssertEqual(
            caughtError { try KeyWrapper(keyEncryptionKey: SymmetricKey(size: .bits128)) },
            .wrongKeyEncryptionKeySize(bytes: 16))
        XCTAssertEqual(
            caughtError {
                try wrapper.wrap(SymmetricKey(size: .bits192), identity: identity, keyRef: "builtin", keyVersion: 1)
            },
            .wrongDataKeySize(bytes: 24))
        XCTAssertEqual(
            caughtError { try wrapper.wrap(DataKey.generate(), identity: identity, keyRef: "", keyVersion: 1) }?.code,
            "envelope_invalid_field")
        XCTAssertEqual(
            caughtError {
                try wrapper.wrap(
                    DataKey.generate(), identity: identity, keyRef: String(repeating: "k", count: 256), keyVersion: 1)
            },
            .fieldTooLong(part: .keyRef, length: 256, limit: 255))
    }

    // MARK: the built-in provider's whole flow

    func testBuiltInSealAndOpen() throws {
        let wrapper = try KeyWrapper(keyEncryptionKey: DataKey.generate())
        let dataKey = DataKey.generate()
        let envelope = try Envelope.seal(
            SecretBytes(utf8: "value"), identity: identity, connectorId: "builtin", keyRef: "local", keyVersion: 1,
            dataKey: dataKey,
            wrappedKey: try wrapper.wrap(dataKey, identity: identity, keyRef: "local", keyVersion: 1))
        let header = try Envelope.header(of: envelope)
        let unwrapped = try wrapper.unwrap(
            header.wrappedKey, identity: identity, keyRef: header.keyRef, keyVersion: header.keyVersion)
        XCTAssertEqual(try Envelope.open(envelope, identity: identity, dataKey: unwrapped).unsafeUTF8String(), "value")
    }

    /// Rotation: unwrap under the old key version, seal again under a fresh data key wrapped by
    /// the newest version. The value is unchanged, the old KEK is no longer needed.
    func testRotationToANewKeyVersion() throws {
        let v1 = try KeyWrapper(keyEncryptionKey: DataKey.generate())
        let v2 = try KeyWrapper(keyEncryptionKey: DataKey.generate())
        let oldKey = DataKey.generate()
        let old = try Envelope.seal(
            SecretBytes(utf8: "value"), identity: identity, connectorId: "builtin", keyRef: "local", keyVersion: 1,
            dataKey: oldKey, wrappedKey: try v1.wrap(oldKey, identity: identity, keyRef: "local", keyVersion: 1))

        let oldHeader = try Envelope.header(of: old)
        let plaintext = try Envelope.open(
            old, identity: identity,
            dataKey: try v1.unwrap(oldHeader.wrappedKey, identity: identity, keyRef: "local", keyVersion: 1))
        let newKey = DataKey.generate()
        let rotated = try Envelope.seal(
            plaintext, identity: identity, connectorId: "builtin", keyRef: "local", keyVersion: 2, dataKey: newKey,
            wrappedKey: try v2.wrap(newKey, identity: identity, keyRef: "local", keyVersion: 2))

        let newHeader = try Envelope.header(of: rotated)
        XCTAssertEqual(newHeader.keyVersion, 2)
        XCTAssertNotEqual(newHeader.wrappedKey, oldHeader.wrappedKey)
        let reopened = try Envelope.open(
            rotated, identity: identity,
            dataKey: try v2.unwrap(newHeader.wrappedKey, identity: identity, keyRef: "local", keyVersion: 2))
        XCTAssertEqual(reopened.unsafeUTF8String(), "value")
        // The old KEK cannot open the rotated record.
        XCTAssertNotNil(
            caughtError { try v1.unwrap(newHeader.wrappedKey, identity: identity, keyRef: "local", keyVersion: 2) })
    }

    /// Migration: open under the old connector, seal under the new one.
    func testMigrationToAnotherConnector() throws {
        let builtin = try KeyWrapper(keyEncryptionKey: DataKey.generate())
        let otherManager = try KeyWrapper(keyEncryptionKey: DataKey.generate())  // stands in for a KMS
        let k1 = DataKey.generate()
        let source = try Envelope.seal(
            SecretBytes(utf8: "value"), identity: identity, connectorId: "builtin", keyRef: "local", keyVersion: 1,
            dataKey: k1, wrappedKey: try builtin.wrap(k1, identity: identity, keyRef: "local", keyVersion: 1))
        let plaintext = try Envelope.open(
            source, identity: identity,
            dataKey: try builtin.unwrap(
                Envelope.header(of: source).wrappedKey, identity: identity, keyRef: "local", keyVersion: 1))
        let k2 = DataKey.generate()
        let migrated = try Envelope.seal(
            plaintext, identity: identity, connectorId: "aws-kms", keyRef: "alias/legate", keyVersion: 1, dataKey: k2,
            wrappedKey: try otherManager.wrap(k2, identity: identity, keyRef: "alias/legate", keyVersion: 1))
        let header = try Envelope.header(of: migrated)
        XCTAssertEqual(header.connectorId, "aws-kms")
        let dataKey = try otherManager.unwrap(
            header.wrappedKey, identity: identity, keyRef: header.keyRef, keyVersion: header.keyVersion)
        XCTAssertEqual(try Envelope.open(migrated, identity: identity, dataKey: dataKey).unsafeUTF8String(), "value")
    }
}
