/// A bounds-checked cursor over untrusted bytes.
///
/// Every read either returns exactly the bytes asked for or throws ``EnvelopeError/truncated(part:needed:available:)``,
/// so the parsers built on it are total: no input, however short or corrupt, can make them index
/// outside the buffer or trap on arithmetic.
///
/// It reads through a raw pointer (valid only inside the caller's `withUnsafeBytes`) and hands
/// back offsets rather than slices, so parsing an envelope copies and retains nothing.
struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    /// Index of the next unread byte.
    private(set) var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Bytes not yet read.
    var remaining: Int { bytes.count - offset }

    /// Skips `count` bytes and returns where they are.
    mutating func read(_ count: Int, part: EnvelopeError.Part) throws(EnvelopeError) -> Range<Int> {
        guard count >= 0, count <= remaining else {
            throw .truncated(part: part, needed: count, available: remaining)
        }
        let range = offset..<(offset + count)
        offset += count
        return range
    }

    /// The bytes at `range`, which a previous ``read(_:part:)`` returned.
    func bytes(at range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    mutating func readUInt8(part: EnvelopeError.Part) throws(EnvelopeError) -> UInt8 {
        try readBigEndian(part: part)
    }

    mutating func readUInt16(part: EnvelopeError.Part) throws(EnvelopeError) -> UInt16 {
        try readBigEndian(part: part)
    }

    mutating func readUInt32(part: EnvelopeError.Part) throws(EnvelopeError) -> UInt32 {
        try readBigEndian(part: part)
    }

    private mutating func readBigEndian<T: FixedWidthInteger>(part: EnvelopeError.Part) throws(EnvelopeError) -> T {
        let range = try read(MemoryLayout<T>.size, part: part)
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: range.lowerBound, as: T.self))
    }
}

/// Writes into a buffer whose exact size the caller computed beforehand (the encoders here know
/// every field length up front), so nothing grows or reallocates while encoding.
struct ByteWriter {
    private let buffer: UnsafeMutableRawBufferPointer
    /// Number of bytes written so far.
    private(set) var offset: Int = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        // A size mismatch is a bug in the encoder's length arithmetic, never a property of input.
        precondition(bytes.count <= buffer.count - offset, "ByteWriter: encoder wrote past its computed length")
        UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + bytes.count)]).copyMemory(from: bytes)
        offset += bytes.count
    }

    mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// The string's UTF-8 bytes, copied in one go (`withUTF8` gives native strings' storage directly).
    mutating func write(utf8 string: String) {
        var string = string
        string.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    /// Big-endian (network order), the byte order of every integer in the formats this target defines.
    mutating func writeBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { write($0) }
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` big-endian (network order), the byte order of every integer in the formats
    /// this target defines.
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.bigEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }

    /// An array of exactly `count` bytes filled by `body` through a ``ByteWriter``, without zeroing
    /// or growing first.
    init(encodedCount count: Int, _ body: (inout ByteWriter) -> Void) {
        self.init(unsafeUninitializedCapacity: count) { buffer, initialized in
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(buffer))
            body(&writer)
            precondition(writer.offset == count, "ByteWriter: encoder wrote less than its computed length")
            initialized = writer.offset
        }
    }
}
