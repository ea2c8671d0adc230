import Crypto
import Foundation

/// Envelope format v1: a secret's value sealed with AES-256-GCM under its own data key.
///
/// `envelope = header ‖ ciphertext ‖ tag(16)`, where the header (see ``EnvelopeHeader``) names
/// the connector, key reference and key version, and carries the wrapped data key and the random
/// 96-bit nonce. The AAD is `header bytes ‖ SecretIdentity.encoded()`, so the ciphertext is bound
/// both to its header and to the secret it belongs to. docs/envelope.md is the full specification.
///
/// Typical use by a key-manager driver:
/// ```swift
/// let dataKey = DataKey.generate()
/// let wrapped = try kms.wrap(dataKey, …)
/// let envelope = try Envelope.seal(value, identity: id, connectorId: c, keyRef: k, keyVersion: v,
///                                  dataKey: dataKey, wrappedKey: wrapped)
/// // later
/// let header = try Envelope.header(of: envelope)          // which key manager / version?
/// let dataKey = try kms.unwrap(header.wrappedKey, …)
/// let value = try Envelope.open(envelope, identity: id, dataKey: dataKey)
/// ```
public enum Envelope {
    /// Seals `plaintext` for the secret `identity` under `dataKey`, with a fresh random nonce.
    ///
    /// `dataKey` should be a fresh 256-bit key for this value (``DataKey/generate()`` or a KMS
    /// "generate data key" call) and `wrappedKey` that key as wrapped by the key manager named
    /// by `connectorId`/`keyRef`/`keyVersion`. A fresh key per value keeps each key to one or two
    /// seals (a rotation may re-seal with the same key), far inside GCM's random-nonce limits.
    ///
    /// - Throws: ``EnvelopeError/wrongDataKeySize(bytes:)``, or a field error when a header field
    ///   exceeds its limit (connector id / key reference: 1…255 UTF-8 bytes; wrapped key:
    ///   1…4096 bytes).
    public static func seal(
        _ plaintext: SecretBytes, identity: SecretIdentity, connectorId: String, keyRef: String, keyVersion: UInt32,
        dataKey: SymmetricKey, wrappedKey: [UInt8]
    ) throws(EnvelopeError) -> [UInt8] {
        try seal(
            plaintext, identity: identity, connectorId: connectorId, keyRef: keyRef, keyVersion: keyVersion,
            dataKey: dataKey, wrappedKey: wrappedKey, nonce: AES.GCM.Nonce())
    }

    /// The sealing step with the nonce supplied, so tests can check the exact bytes against the
    /// documented layout. Production code must go through the public `seal`, which draws a fresh
    /// random nonce every time.
    static func seal(
        _ plaintext: SecretBytes, identity: SecretIdentity, connectorId: String, keyRef: String, keyVersion: UInt32,
        dataKey: SymmetricKey, wrappedKey: [UInt8], nonce: AES.GCM.Nonce
    ) throws(EnvelopeError) -> [UInt8] {
        try DataKey.check(dataKey)
        try EnvelopeHeader.checkFields(
            connectorIdCount: connectorId.utf8.count, keyRefCount: keyRef.utf8.count, wrappedKeyCount: wrappedKey.count)
        let headerCount = EnvelopeHeader.encodedCount(
            connectorIdCount: connectorId.utf8.count, keyRefCount: keyRef.utf8.count, wrappedKeyCount: wrappedKey.count)
        // AAD = header ‖ identity, written once into one buffer; the envelope starts with its first
        // `headerCount` bytes.
        let aad = [UInt8](encodedCount: headerCount + identity.encodedCount) { writer in
            nonce.withUnsafeBytes { nonce in
                EnvelopeHeader.write(
                    connectorId: connectorId, keyRef: keyRef, keyVersion: keyVersion, wrappedKey: wrappedKey,
                    nonce: nonce, into: &writer)
            }
            identity.write(into: &writer)
        }
        let nonceCount = EnvelopeHeader.nonceByteCount
        let envelopeCount = headerCount + plaintext.count + EnvelopeHeader.tagByteCount
        do {
            // Allocated before swift-crypto's two buffers so those sit above it and are freed
            // together: glibc then trims and re-faults two fresh heap regions per large seal, not
            // three (page faults, not copying, are the cost at 1 MiB).
            return try [UInt8](unsafeUninitializedCapacity: envelopeCount) { buffer, initialized in
                let out = UnsafeMutableRawBufferPointer(buffer)
                // A raw buffer is one contiguous region, swift-crypto's no-copy input path.
                let box = try plaintext.withUnsafeBytes { bytes in
                    try AES.GCM.seal(bytes, using: dataKey, nonce: nonce, authenticating: aad)
                }
                // `combined` is nonce ‖ ciphertext ‖ tag in one buffer: one memcpy of its tail,
                // where `ciphertext`/`tag` would each build a `Data` slice first.
                guard let combined = box.combined, combined.count == nonceCount + envelopeCount - headerCount else {
                    throw EnvelopeError.cryptoFailure(operation: "seal an envelope with AES-256-GCM")
                }
                aad.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<headerCount])) }
                combined.withUnsafeBytes { sealed in
                    UnsafeMutableRawBufferPointer(rebasing: out[headerCount...])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: sealed[nonceCount...]))
                }
                initialized = envelopeCount
            }
        } catch {
            throw .cryptoFailure(operation: "seal an envelope with AES-256-GCM")
        }
    }

    /// Parses and returns the header of `envelope` without decrypting anything, so the caller can
    /// pick the key manager (``EnvelopeHeader/connectorId``, ``EnvelopeHeader/keyRef``,
    /// ``EnvelopeHeader/keyVersion``) that unwraps ``EnvelopeHeader/wrappedKey``.
    ///
    /// The header is not authenticated until ``open(_:identity:dataKey:)`` succeeds; treat its
    /// fields as routing hints only.
    ///
    /// - Throws: ``EnvelopeError/notAnEnvelope``, ``EnvelopeError/unsupportedFormatVersion(_:)``,
    ///   ``EnvelopeError/truncated(part:needed:available:)``, ``EnvelopeError/fieldTooLong(part:length:limit:)``
    ///   or ``EnvelopeError/invalidField(part:reason:)``. Never traps, whatever the input.
    public static func header(of envelope: [UInt8]) throws(EnvelopeError) -> EnvelopeHeader {
        try EnvelopeHeader.parse(envelope).header
    }

    /// Authenticates and decrypts `envelope` as the secret `identity`.
    ///
    /// - Throws: any error of ``header(of:)``; ``EnvelopeError/wrongDataKeySize(bytes:)``; and
    ///   ``EnvelopeError/authenticationFailed(identity:)`` when the ciphertext, tag or header were
    ///   altered, the identity differs from the one sealed, or `dataKey` is not the sealing key.
    public static func open(_ envelope: [UInt8], identity: SecretIdentity, dataKey: SymmetricKey)
        throws(EnvelopeError) -> SecretBytes
    {
        let layout = try EnvelopeHeader.scan(envelope)
        try DataKey.check(dataKey)
        let headerLength = layout.headerLength
        // The AAD uses the header bytes as stored, not a re-encoding, so what is authenticated is
        // exactly what was read.
        let aad = [UInt8](encodedCount: headerLength + identity.encodedCount) { writer in
            envelope.withUnsafeBytes { writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<headerLength])) }
            identity.write(into: &writer)
        }
        var plaintext: Data
        do {
            // The nonce is the header's last field, so nonce ‖ ciphertext ‖ tag is one contiguous
            // run: swift-crypto's combined form, taken in one memcpy.
            let box = try envelope.withUnsafeBytes { bytes in
                try AES.GCM.SealedBox(combined: UnsafeRawBufferPointer(rebasing: bytes[layout.nonce.lowerBound...]))
            }
            plaintext = try AES.GCM.open(box, using: dataKey, authenticating: aad)
        } catch {
            throw .authenticationFailed(identity: identity)
        }
        // The returned `Data` is referenced only here; SecretBytes takes it over (and zeroes it on
        // release) instead of copying it and zeroing the original.
        return SecretBytes(adopting: consume plaintext)
    }

    /// The envelope as standard, padded base64 (RFC 4648 §4), for storing in JSON or a text column.
    public static func encodeText(_ envelope: [UInt8]) -> String {
        Data(envelope).base64EncodedString()
    }

    /// Decodes ``encodeText(_:)``. Only the base64 is checked; ``header(of:)`` or
    /// ``open(_:identity:dataKey:)`` validate the envelope itself.
    ///
    /// - Throws: ``EnvelopeError/invalidText`` when `text` is not valid base64.
    public static func decodeText(_ text: String) throws(EnvelopeError) -> [UInt8] {
        guard let data = Data(base64Encoded: text) else { throw .invalidText }
        return Array(data)
    }
}
