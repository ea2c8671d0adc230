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
        try Self.checkFields(
            connectorIdCount: connectorId.utf8.count, keyRefCount: keyRef.utf8.count, wrappedKeyCount: wrappedKey.count)
        guard nonce.count == Self.nonceByteCount else {
            throw .invalidField(part: .nonce, reason: "is \(nonce.count) bytes; it must be exactly \(Self.nonceByteCount)")
        }
        self.init(
            unchecked: connectorId, keyRef: keyRef, keyVersion: keyVersion, wrappedKey: wrappedKey, nonce: nonce)
    }

    /// For values `parse` has already validated.
    private init(unchecked connectorId: String, keyRef: String, keyVersion: UInt32, wrappedKey: [UInt8], nonce: [UInt8]) {
        self.formatVersion = Self.currentFormatVersion
        self.connectorId = connectorId
        self.keyRef = keyRef
        self.keyVersion = keyVersion
        self.wrappedKey = wrappedKey
        self.nonce = nonce
    }

    /// Number of bytes ``encoded()`` produces.
    public var encodedCount: Int {
        Self.encodedCount(
            connectorIdCount: connectorId.utf8.count, keyRefCount: keyRef.utf8.count, wrappedKeyCount: wrappedKey.count)
    }

    /// The header's bytes, exactly as they start an envelope and as they enter the AAD.
    public func encoded() -> [UInt8] {
        [UInt8](encodedCount: encodedCount) { writer in
            nonce.withUnsafeBytes { nonce in
                Self.write(
                    connectorId: connectorId, keyRef: keyRef, keyVersion: keyVersion, wrappedKey: wrappedKey,
                    nonce: nonce, into: &writer)
            }
        }
    }

    // MARK: encoding without building a header value (the sealing path)

    /// The field limits of the layout, checked in field order so the first problem is reported.
    static func checkFields(connectorIdCount: Int, keyRefCount: Int, wrappedKeyCount: Int) throws(EnvelopeError) {
        try checkName(connectorIdCount, part: .connectorId)
        try checkName(keyRefCount, part: .keyRef)
        try checkWrappedKey(wrappedKeyCount)
    }

    static func encodedCount(connectorIdCount: Int, keyRefCount: Int, wrappedKeyCount: Int) -> Int {
        4 + 2 + connectorIdCount + 2 + keyRefCount + 4 + 2 + wrappedKeyCount + nonceByteCount
    }

    /// Writes a header whose fields passed ``checkFields(connectorIdCount:keyRefCount:wrappedKeyCount:)``
    /// (so the length conversions below cannot truncate) and whose nonce is 12 bytes.
    static func write(
        connectorId: String, keyRef: String, keyVersion: UInt32, wrappedKey: [UInt8], nonce: UnsafeRawBufferPointer,
        into writer: inout ByteWriter
    ) {
        writer.write(magic)
        writer.writeBigEndian(currentFormatVersion)
        writer.writeBigEndian(UInt16(truncatingIfNeeded: connectorId.utf8.count))
        writer.write(utf8: connectorId)
        writer.writeBigEndian(UInt16(truncatingIfNeeded: keyRef.utf8.count))
        writer.write(utf8: keyRef)
        writer.writeBigEndian(keyVersion)
        writer.writeBigEndian(UInt16(truncatingIfNeeded: wrappedKey.count))
        writer.write(wrappedKey)
        writer.write(nonce)
    }

    // MARK: parsing

    /// Where a validated header's fields lie in the envelope (byte offsets from its start).
    struct Layout {
        var connectorId: Range<Int>
        var keyRef: Range<Int>
        var keyVersion: UInt32
        var wrappedKey: Range<Int>
        /// Ends where the header ends and the ciphertext starts.
        var nonce: Range<Int>
        var headerLength: Int { nonce.upperBound }
    }

    /// Parses the header at the start of `envelope` and checks that a whole tag can follow it.
    ///
    /// Returns the header and its length in bytes (where the ciphertext starts).
    static func parse(_ envelope: [UInt8]) throws(EnvelopeError) -> (header: EnvelopeHeader, length: Int) {
        let layout = try scan(envelope)
        // `scan` validated the names as UTF-8, so decoding cannot substitute anything.
        let header = EnvelopeHeader(
            unchecked: String(decoding: envelope[layout.connectorId], as: UTF8.self),
            keyRef: String(decoding: envelope[layout.keyRef], as: UTF8.self),
            keyVersion: layout.keyVersion, wrappedKey: Array(envelope[layout.wrappedKey]),
            nonce: Array(envelope[layout.nonce]))
        return (header, layout.headerLength)
    }

    /// Validates the header at the start of `envelope` and returns where its fields are, without
    /// building strings or arrays: `Envelope.open` needs only the offsets.
    ///
    /// Checks run in byte order, so the first problem found is the one reported; a length prefix
    /// over its limit is reported as too long even if the input would also be too short for it,
    /// because that points at corruption rather than truncation.
    static func scan(_ envelope: [UInt8]) throws(EnvelopeError) -> Layout {
        let scanned: Result<Layout, EnvelopeError> = envelope.withUnsafeBytes { bytes in
            Result { () throws(EnvelopeError) -> Layout in try scan(bytes) }
        }
        return try scanned.get()
    }

    private static func scan(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeError) -> Layout {
        // Judge the magic on whatever prefix exists: a 2-byte input "LG" is a truncated envelope,
        // a 2-byte input "{\"" is not an envelope at all.
        let present = bytes.prefix(magic.count)
        guard present.elementsEqual(magic.prefix(present.count)) else { throw .notAnEnvelope }

        var reader = ByteReader(bytes)
        _ = try reader.read(magic.count, part: .magic)
        let version = try reader.readUInt8(part: .formatVersion)
        guard version == currentFormatVersion else { throw .unsupportedFormatVersion(version) }

        let connectorId = try readName(&reader, lengthPart: .connectorIdLength, part: .connectorId)
        let keyRef = try readName(&reader, lengthPart: .keyRefLength, part: .keyRef)
        let keyVersion = try reader.readUInt32(part: .keyVersion)
        let wrappedCount = Int(try reader.readUInt16(part: .wrappedKeyLength))
        try checkWrappedKey(wrappedCount)
        let wrappedKey = try reader.read(wrappedCount, part: .wrappedKey)
        let nonce = try reader.read(nonceByteCount, part: .nonce)
        guard reader.remaining >= tagByteCount else {
            throw .truncated(part: .tag, needed: tagByteCount, available: reader.remaining)
        }
        return Layout(connectorId: connectorId, keyRef: keyRef, keyVersion: keyVersion, wrappedKey: wrappedKey, nonce: nonce)
    }

    private static func readName(_ reader: inout ByteReader, lengthPart: EnvelopeError.Part, part: EnvelopeError.Part)
        throws(EnvelopeError) -> Range<Int>
    {
        let count = Int(try reader.readUInt16(part: lengthPart))
        try checkName(count, part: part)
        let range = try reader.read(count, part: part)
        guard isValidUTF8(reader.bytes(at: range)) else {
            throw .invalidField(part: part, reason: "is not valid UTF-8")
        }
        return range
    }

    /// Names are almost always ASCII, which is valid UTF-8 without the general decoder.
    private static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.allSatisfy { $0 < 0x80 } || String(validating: bytes, as: UTF8.self) != nil
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
