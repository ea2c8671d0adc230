import Crypto

/// Per-secret AES-256 data keys.
public enum DataKey {
    /// 256 bits: the only size envelopes accept.
    public static let byteCount = 32

    /// A fresh random 256-bit key from the system CSPRNG. Generate one per sealed value; never
    /// reuse a data key for another secret or another version.
    public static func generate() -> SymmetricKey {
        SymmetricKey(size: .bits256)
    }

    /// Rejects keys of any size but 256 bits, so a KMS answer of the wrong shape surfaces as a
    /// clear error instead of silently selecting AES-128 or AES-192.
    static func check(_ key: SymmetricKey) throws(EnvelopeError) {
        guard key.bitCount == byteCount * 8 else { throw .wrongDataKeySize(bytes: key.bitCount / 8) }
    }
}
