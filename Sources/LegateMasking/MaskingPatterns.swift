/// Turns secret values into the byte patterns the masker looks for.
///
/// A secret leaks in more shapes than its raw bytes: a task may base64 it into a header, put it in a
/// URL, print it inside JSON, or echo a shell command line that quotes it. For every secret this type
/// produces the raw value and each of those encoded forms (see `docs/masking.md`):
///
/// - raw bytes;
/// - standard base64 and base64url in all three alignments (``base64Forms(of:)``);
/// - percent-encodings as common encoders write them (``percentEncodedForms(of:)``);
/// - JSON string escapings as common encoders write them (``jsonEscapedForms(of:)``);
/// - shell quotings (``shellQuotedForms(of:)``);
/// - for multi-line values, every line on its own (``lineForms(of:minimumLength:)``).
///
/// Values whose meaningful length is under the minimum (``defaultMinimumLength``) produce no patterns
/// at all: masking `abc` would blank out every `abc` in every log, which hides far more than it
/// protects. The manager calls ``isTooShortToMask(_:minimumLength:)`` to warn the operator instead.
public enum MaskingPatterns {
    /// Secrets, lines and encoded forms shorter than this many bytes are never masked.
    public static let defaultMinimumLength = 4

    /// Values longer than this get only their raw, base64 and line forms.
    ///
    /// Percent, JSON and shell forms of a large file secret (a keystore, a tarball) would cost several
    /// times its size in automaton states, and nobody URL-encodes a megabyte into a log line.
    public static let maximumEscapedFormLength = 64 << 10

    /// Whether a value is too short to be masked, so that the operator can be warned when such a
    /// secret is created.
    ///
    /// The length counted is the value's length without leading and trailing ASCII whitespace: a value
    /// like `"ab\n"` (a two-character password file) is as dangerous to mask as `"ab"`.
    /// - Parameters:
    ///   - value: The secret's bytes.
    ///   - minimumLength: The masker's minimum length, ``defaultMinimumLength`` unless configured.
    public static func isTooShortToMask(
        _ value: some Collection<UInt8>, minimumLength: Int = defaultMinimumLength
    ) -> Bool {
        trimmedLength(Array(value)) < minimumLength
    }

    /// Whether a text value is too short to be masked (counted in UTF-8 bytes, whitespace trimmed).
    public static func isTooShortToMask(_ value: String, minimumLength: Int = defaultMinimumLength) -> Bool {
        isTooShortToMask(value.utf8, minimumLength: minimumLength)
    }

    /// Every pattern to mask for one secret value, deduplicated, none shorter than `minimumLength`.
    ///
    /// Returns an empty array when ``isTooShortToMask(_:minimumLength:)`` is true for the value.
    /// - Parameters:
    ///   - secret: The secret's bytes (a text secret's UTF-8, or a file secret's content).
    ///   - minimumLength: Patterns shorter than this are dropped; values shorter are not masked.
    public static func patterns(for secret: [UInt8], minimumLength: Int = defaultMinimumLength) -> [[UInt8]] {
        var collector = PatternCollector(minimumLength: minimumLength)
        collector.add(forSecret: secret)
        return collector.patterns
    }

    /// Every pattern to mask for a set of secrets, deduplicated across secrets.
    public static func patterns(
        for secrets: some Sequence<[UInt8]>, minimumLength: Int = defaultMinimumLength
    ) -> [[UInt8]] {
        var collector = PatternCollector(minimumLength: minimumLength)
        for secret in secrets {
            collector.add(forSecret: secret)
        }
        return collector.patterns
    }

    /// The lines of a multi-line value that are long enough to mask on their own.
    ///
    /// Tools often print a multi-line secret (a PEM key, a JSON key file, an `.env` file) with a
    /// prefix on every line, or only part of it, so each line is masked by itself: as it is (with a
    /// trailing `\r` removed) and with surrounding spaces and tabs removed. A line counts only if its
    /// trimmed content has at least `minimumLength` bytes, so `  },` in a JSON file does not blank
    /// out every `  },` in the logs. PEM armour lines (`-----BEGIN …-----`, `-----END …-----`) are
    /// skipped: they are public and would mask every certificate ever printed.
    ///
    /// Returns an empty array for a value without a line feed.
    public static func lineForms(of value: [UInt8], minimumLength: Int = defaultMinimumLength) -> [[UInt8]] {
        guard value.contains(UInt8(ascii: "\n")) else { return [] }
        var result: [[UInt8]] = []
        for rawLine in value.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            var line = Array(rawLine)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            let trimmed = trimWhitespace(line)
            guard trimmed.count >= minimumLength, !isPEMArmour(trimmed) else { continue }
            result.append(line)
            if trimmed.count != line.count { result.append(trimmed) }
        }
        return result
    }

    // MARK: - Helpers shared by the encoders

    static func isWhitespace(_ byte: UInt8) -> Bool {
        // Space, \t, \n, \v, \f, \r.
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    static func trimWhitespace(_ value: [UInt8]) -> [UInt8] {
        guard let first = value.firstIndex(where: { !isWhitespace($0) }),
            let last = value.lastIndex(where: { !isWhitespace($0) })
        else { return [] }
        return Array(value[first...last])
    }

    static func trimmedLength(_ value: [UInt8]) -> Int {
        trimWhitespace(value).count
    }

    private static let pemBegin = Array("-----BEGIN ".utf8)
    private static let pemEnd = Array("-----END ".utf8)
    private static let pemDashes = Array("-----".utf8)

    static func isPEMArmour(_ line: [UInt8]) -> Bool {
        (line.starts(with: pemBegin) || line.starts(with: pemEnd)) && line.count > 2 * pemDashes.count
            && Array(line.suffix(pemDashes.count)) == pemDashes
    }
}

/// Accumulates patterns in first-seen order without duplicates.
struct PatternCollector {
    let minimumLength: Int
    private(set) var patterns: [[UInt8]] = []
    private var seen: Set<[UInt8]> = []

    init(minimumLength: Int) {
        // A zero or negative minimum would let the empty pattern in, which matches everywhere.
        self.minimumLength = max(1, minimumLength)
    }

    mutating func add(_ pattern: [UInt8]) {
        guard pattern.count >= minimumLength, seen.insert(pattern).inserted else { return }
        patterns.append(pattern)
    }

    mutating func add(contentsOf newPatterns: [[UInt8]]) {
        for pattern in newPatterns { add(pattern) }
    }

    mutating func add(forSecret secret: [UInt8]) {
        guard !MaskingPatterns.isTooShortToMask(secret, minimumLength: minimumLength) else { return }
        add(secret)
        add(contentsOf: MaskingPatterns.base64Forms(of: secret))
        let escapable = secret.count <= MaskingPatterns.maximumEscapedFormLength
        if escapable {
            add(contentsOf: MaskingPatterns.percentEncodedForms(of: secret))
            add(contentsOf: MaskingPatterns.jsonEscapedForms(of: secret))
            add(contentsOf: MaskingPatterns.shellQuotedForms(of: secret))
        }
        for line in MaskingPatterns.lineForms(of: secret, minimumLength: minimumLength) {
            add(line)
            // A line of a secret that itself contains quotes or backslashes (an .env file) shows up
            // escaped when a tool logs it inside JSON.
            if escapable { add(contentsOf: MaskingPatterns.jsonEscapedForms(of: line)) }
        }
    }
}
