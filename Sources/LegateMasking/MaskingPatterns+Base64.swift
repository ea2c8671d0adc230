extension MaskingPatterns {
    private static let standardAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The base64 and base64url forms of a value, in all three alignments, without padding.
    ///
    /// Base64 turns every 3 input bytes into 4 characters, so how a secret is encoded depends on
    /// where it sits: the length of whatever precedes it, modulo 3. For alignment `k` in 0, 1, 2 this
    /// encodes `k` filler bytes followed by the secret and keeps only the characters whose 6 bits all
    /// come from secret bytes: the leading characters that also hold filler bits are dropped, and so
    /// is the trailing character that would also hold bits of whatever follows. Those kept characters
    /// are then exactly what appears in the base64 of *any* `prefix + secret + suffix` whose prefix
    /// length is `k` modulo 3, so one of the three forms is always found.
    ///
    /// Returns up to six patterns (three per alphabet; base64url ones only where they differ).
    public static func base64Forms(of value: [UInt8]) -> [[UInt8]] {
        guard !value.isEmpty else { return [] }
        var result: [[UInt8]] = []
        result.reserveCapacity(6)
        for alphabet in [standardAlphabet, urlAlphabet] {
            for alignment in 0..<3 {
                let form = base64Characters(of: value, alignment: alignment, alphabet: alphabet)
                if !form.isEmpty, !result.contains(form) { result.append(form) }
            }
        }
        return result
    }

    /// The characters of base64(`alignment` filler bytes + `value`) that depend on `value` alone.
    private static func base64Characters(of value: [UInt8], alignment: Int, alphabet: [UInt8]) -> [UInt8] {
        // Bits of the secret occupy [8k, 8(k+n)) of the encoded bit stream; character j covers
        // [6j, 6j+6). Keep the characters lying wholly inside the secret's bits.
        let firstBit = 8 * alignment
        let endBit = 8 * (alignment + value.count)
        let firstChar = (firstBit + 5) / 6
        let endChar = endBit / 6
        guard endChar > firstChar else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(endChar - firstChar)
        for char in firstChar..<endChar {
            // Read the 16 bits starting at the byte holding this character's first bit; positions are
            // relative to the secret because the character lies wholly inside it.
            let bit = 6 * char - firstBit
            let byteIndex = bit / 8
            let shift = bit % 8
            let high = Int(value[byteIndex])
            let low = byteIndex + 1 < value.count ? Int(value[byteIndex + 1]) : 0
            let sixBits = ((high << 8 | low) >> (10 - shift)) & 0x3F
            out.append(alphabet[sixBits])
        }
        return out
    }
}
