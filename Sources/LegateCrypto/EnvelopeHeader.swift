/// The authenticated, unencrypted front of an envelope: which connector and key unwrap the data
/// key, the wrapped data key itself, and the GCM nonce.
///
/// Binary layout (format version 1, all integers big-endian; docs/envelope.md has the table):
///
/// | bytes | field |
/// |---|---|
/// | 3 | magic `LGE` (0x4C 0x47 0x45) |
/// | 1 | format version, `0x01` |
/// | 2 + n | connector id: u16 length (1…255), UTF-8 |
/// | 2 + n | key reference: u16 length (1…255), UTF-8 |
/// | 4 | key version, u32 |
/// | 2 + n | wrapped data key: u16 length (1…4096), bytes |
/// | 12 | nonce |
///
/// The ciphertext and the 16-byte GCM tag follow the header in an envelope.
public struct EnvelopeHeader: Sendable, Hashable {
    /// `LGE`: lets a reader reject data that is not an envelope before looking further.
    public static let magic: [UInt8] = [0x4C, 0x47, 0x45]
    /// The only format version this build writes and reads.
    public static let currentFormatVersion: UInt8 = 1
    /// Limit on the UTF-8 length of ``connectorId`` and ``keyRef``.
    public static let maxNameBytes = 255
    /// Limit on ``wrappedKey``; KMS ciphertext blobs are a few hundred bytes, 4 KiB leaves room.
    public static let maxWrappedKeyBytes = 4096
    /// AES-GCM's 96-bit nonce.
    public static let nonceByteCount = 12
    /// AES-GCM's 128-bit tag, appended after the ciphertext.
    public static let tagByteCount = 16

    /// Always ``currentFormatVersion`` for a header this build produced or accepted.
    public let formatVersion: UInt8
    /// The connector whose key manager wrapped the data key.
    public let connectorId: String
    /// The key within that key manager (a KMS key ARN, a Vault transit key name, `builtin`…).
    public let keyRef: String
    /// The version of ``keyRef`` that wrapped the data key; rotation compares it with the newest.
    public let keyVersion: UInt32
    /// The data key as wrapped by the key manager; opaque to this target.
    public let wrappedKey: [UInt8]
    /// The 12-byte GCM nonce used for this envelope's ciphertext.
    public let nonce: [UInt8]

    /// Builds a header, checking every limit of the binary layout.
    public init(connectorId: String, keyRef: String, keyVersion: UInt32, wrappedKey: [UInt8], nonce: [UInt8])
        throws(EnvelopeError)
    {
        try Self.checkName(connectorId.utf8.count, part: .connectorId)
        try Self.checkName(keyRef.utf8.count, part: .keyRef)
        try Self.checkWrappedKey(wrappedKey.count)
        guard nonce.count == Self.nonceByteCount else {
            throw .invalidField(part: .nonce, reason: "is \(nonce.count) bytes; it must be exactly \(Self.nonceByteCount)")
        }
        self.formatVersion = Self.currentFormatVersion
        self.connectorId = connectorId
        self.keyRef = keyRef
        self.keyVersion = keyVersion
        self.wrappedKey = wrappedKey
        self.nonce = nonce
    }

    /// Number of bytes ``encoded()`` produces.
    public var encodedCount: Int {
        4 + 2 + connectorId.utf8.count + 2 + keyRef.utf8.count + 4 + 2 + wrappedKey.count + Self.nonceByteCount
    }

    /// The header's bytes, exactly as they start an envelope and as they enter the AAD.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedCount)
        out += Self.magic
        out.append(formatVersion)
        // The initialiser enforced the limits, so these conversions cannot truncate.
        out.appendBigEndian(UInt16(truncatingIfNeeded: connectorId.utf8.count))
        out.append(contentsOf: connectorId.utf8)
        out.appendBigEndian(UInt16(truncatingIfNeeded: keyRef.utf8.count))
        out.append(contentsOf: keyRef.utf8)
        out.appendBigEndian(keyVersion)
        out.appendBigEndian(UInt16(truncatingIfNeeded: wrappedKey.count))
        out += wrappedKey
        out += nonce
        return out
    }

    /// Parses the header at the start of `envelope` and checks that a whole tag can follow it.
    ///
    /// Returns the header and its length in bytes (where the ciphertext starts). Checks run in
    /// byte order, so the first problem found is the one reported; a length prefix over its limit
    /// is reported as too long even if the input would also be too short for it, because that
    /// points at corruption rather than truncation.
    static func parse(_ envelope: [UInt8]) throws(EnvelopeError) -> (header: EnvelopeHeader, length: Int) {
        // Judge the magic on whatever prefix exists: a 2-byte input "LG" is a truncated envelope,
        // a 2-byte input "{\"" is not an envelope at all.
        let present = envelope.prefix(magic.count)
        guard present.elementsEqual(magic.prefix(present.count)) else { throw .notAnEnvelope }

        var reader = ByteReader(envelope)
        _ = try reader.read(magic.count, part: .magic)
        let version = try reader.readUInt8(part: .formatVersion)
        guard version == currentFormatVersion else { throw .unsupportedFormatVersion(version) }

        let connectorId = try readName(&reader, lengthPart: .connectorIdLength, part: .connectorId)
        let keyRef = try readName(&reader, lengthPart: .keyRefLength, part: .keyRef)
        let keyVersion = try reader.readUInt32(part: .keyVersion)
        let wrappedCount = Int(try reader.readUInt16(part: .wrappedKeyLength))
        try checkWrappedKey(wrappedCount)
        let wrappedKey = Array(try reader.read(wrappedCount, part: .wrappedKey))
        let nonce = Array(try reader.read(nonceByteCount, part: .nonce))
        let length = reader.offset
        guard reader.remaining >= tagByteCount else {
            throw .truncated(part: .tag, needed: tagByteCount, available: reader.remaining)
        }
        let header = try EnvelopeHeader(
            connectorId: connectorId, keyRef: keyRef, keyVersion: keyVersion, wrappedKey: wrappedKey, nonce: nonce)
        return (header, length)
    }

    private static func readName(_ reader: inout ByteReader, lengthPart: EnvelopeError.Part, part: EnvelopeError.Part)
        throws(EnvelopeError) -> String
    {
        let count = Int(try reader.readUInt16(part: lengthPart))
        try checkName(count, part: part)
        let bytes = try reader.read(count, part: part)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .invalidField(part: part, reason: "is not valid UTF-8")
        }
        return text
    }

    private static func checkName(_ count: Int, part: EnvelopeError.Part) throws(EnvelopeError) {
        guard count > 0 else { throw .invalidField(part: part, reason: "is empty; it must name something") }
        guard count <= maxNameBytes else { throw .fieldTooLong(part: part, length: count, limit: maxNameBytes) }
    }

    private static func checkWrappedKey(_ count: Int) throws(EnvelopeError) {
        guard count > 0 else { throw .invalidField(part: .wrappedKey, reason: "is empty") }
        guard count <= maxWrappedKeyBytes else {
            throw .fieldTooLong(part: .wrappedKey, length: count, limit: maxWrappedKeyBytes)
        }
    }
}
