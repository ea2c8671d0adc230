import Crypto
import Foundation

/// The built-in provider's key wrap: AES-256-GCM of a 32-byte data key under a 32-byte
/// key-encryption key (KEK) that lives only on the delegate.
///
/// Wrapped form: `nonce(12) ‖ ciphertext(32) ‖ tag(16)`, 60 bytes, stored as the envelope
/// header's wrapped key. AAD: `"LGW" 0x01 ‖ SecretIdentity.encoded() ‖ u16 len(keyRef) ‖ keyRef ‖
/// u32 keyVersion`. Binding the identity and the key reference/version means a wrapped key cannot be
/// replayed for another secret or relabelled as wrapped by another key version, mirroring the
/// encryption context that external KMSes get. The `LGW` prefix keeps these AADs disjoint from
/// envelope AADs (which start `LGE`), so neither can ever stand in for the other.
public struct KeyWrapper: Sendable {
    /// Length of every wrapped key this type produces.
    public static let wrappedKeyByteCount = EnvelopeHeader.nonceByteCount + DataKey.byteCount
        + EnvelopeHeader.tagByteCount

    private static let aadPrefix: [UInt8] = [0x4C, 0x47, 0x57, 0x01]  // "LGW", version 1

    private let keyEncryptionKey: SymmetricKey

    /// - Throws: ``EnvelopeError/wrongKeyEncryptionKeySize(bytes:)`` unless the KEK is 32 bytes.
    public init(keyEncryptionKey: SymmetricKey) throws(EnvelopeError) {
        guard keyEncryptionKey.bitCount == 256 else {
            throw .wrongKeyEncryptionKeySize(bytes: keyEncryptionKey.bitCount / 8)
        }
        self.keyEncryptionKey = keyEncryptionKey
    }

    /// Wraps `dataKey` for the secret `identity` under this KEK, labelled `keyRef`/`keyVersion`,
    /// with a fresh random nonce.
    ///
    /// - Throws: ``EnvelopeError/wrongDataKeySize(bytes:)``; a field error if `keyRef` is empty or
    ///   longer than 255 UTF-8 bytes (the envelope header's limit).
    public func wrap(_ dataKey: SymmetricKey, identity: SecretIdentity, keyRef: String, keyVersion: UInt32)
        throws(EnvelopeError) -> [UInt8]
    {
        try DataKey.check(dataKey)
        let aad = try Self.associatedData(identity: identity, keyRef: keyRef, keyVersion: keyVersion)
        let nonce = AES.GCM.Nonce()
        let box: AES.GCM.SealedBox
        do {
            box = try dataKey.withUnsafeBytes { bytes in
                try AES.GCM.seal(bytes, using: keyEncryptionKey, nonce: nonce, authenticating: aad)
            }
        } catch {
            throw .cryptoFailure(operation: "wrap a data key with AES-256-GCM")
        }
        var out = nonce.withUnsafeBytes { Array($0) }
        out.append(contentsOf: box.ciphertext)
        out.append(contentsOf: box.tag)
        return out
    }

    /// Unwraps a key made by ``wrap(_:identity:keyRef:keyVersion:)`` with the same identity,
    /// key reference and version.
    ///
    /// - Throws: ``EnvelopeError/invalidWrappedKey(length:expected:)`` when the input is not 60
    ///   bytes; ``EnvelopeError/unwrapFailed(identity:keyRef:keyVersion:)`` when authentication
    ///   fails (wrong KEK, tampered bytes, or a different identity/keyRef/keyVersion).
    public func unwrap(_ wrappedKey: [UInt8], identity: SecretIdentity, keyRef: String, keyVersion: UInt32)
        throws(EnvelopeError) -> SymmetricKey
    {
        guard wrappedKey.count == Self.wrappedKeyByteCount else {
            throw .invalidWrappedKey(length: wrappedKey.count, expected: Self.wrappedKeyByteCount)
        }
        let aad = try Self.associatedData(identity: identity, keyRef: keyRef, keyVersion: keyVersion)
        let nonceEnd = EnvelopeHeader.nonceByteCount
        let tagStart = wrappedKey.count - EnvelopeHeader.tagByteCount
        do {
            let box = try AES.GCM.SealedBox(
                nonce: try AES.GCM.Nonce(data: wrappedKey[0..<nonceEnd]),
                ciphertext: wrappedKey[nonceEnd..<tagStart],
                tag: wrappedKey[tagStart...])
            var keyBytes = try AES.GCM.open(box, using: keyEncryptionKey, authenticating: aad)
            // SymmetricKey copies into its own managed storage; wipe the intermediate Data.
            defer { SecureZero.zero(&keyBytes) }
            return SymmetricKey(data: keyBytes)
        } catch {
            throw .unwrapFailed(identity: identity, keyRef: keyRef, keyVersion: keyVersion)
        }
    }

    /// The wrap AAD; see the type's documentation for the layout.
    static func associatedData(identity: SecretIdentity, keyRef: String, keyVersion: UInt32) throws(EnvelopeError)
        -> [UInt8]
    {
        let refCount = keyRef.utf8.count
        guard refCount > 0 else { throw .invalidField(part: .keyRef, reason: "is empty; it must name something") }
        guard refCount <= EnvelopeHeader.maxNameBytes else {
            throw .fieldTooLong(part: .keyRef, length: refCount, limit: EnvelopeHeader.maxNameBytes)
        }
        var aad = aadPrefix
        aad += identity.encoded()
        aad.appendBigEndian(UInt16(truncatingIfNeeded: refCount))
        aad.append(contentsOf: keyRef.utf8)
        aad.appendBigEndian(keyVersion)
        return aad
    }
}
