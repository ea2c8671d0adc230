/// A bounds-checked cursor over untrusted bytes.
///
/// Every read either returns exactly the bytes asked for or throws ``EnvelopeError/truncated(part:needed:available:)``,
/// so the parsers built on it are total: no input, however short or corrupt, can make them index
/// outside the buffer or trap on arithmetic.
struct ByteReader {
    private let bytes: [UInt8]
    /// Index of the next unread byte.
    private(set) var offset: Int = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Bytes not yet read.
    var remaining: Int { bytes.count - offset }

    mutating func read(_ count: Int, part: EnvelopeError.Part) throws(EnvelopeError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw .truncated(part: part, needed: count, available: remaining)
        }
        let slice = bytes[offset..<(offset + count)]
        offset += count
        return slice
    }

    mutating func readUInt8(part: EnvelopeError.Part) throws(EnvelopeError) -> UInt8 {
        let b = try read(1, part: part)
        return b[b.startIndex]
    }

    mutating func readUInt16(part: EnvelopeError.Part) throws(EnvelopeError) -> UInt16 {
        let b = try read(2, part: part)
        return b.reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func readUInt32(part: EnvelopeError.Part) throws(EnvelopeError) -> UInt32 {
        let b = try read(4, part: part)
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` big-endian (network order), the byte order of every integer in the formats
    /// this target defines.
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.bigEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}
