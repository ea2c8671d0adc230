/// Replaces every occurrence of a set of secrets, in all their common encodings, with `***`.
///
/// Build one masker from the secret values a task (or the agent) may reveal, then either call
/// ``mask(_:)`` on complete buffers or, for output that arrives in pieces, make a
/// ``MaskingStream`` per output channel. Both give the same result.
///
/// What is masked: every pattern from ``MaskingPatterns/patterns(for:minimumLength:)``
/// (raw value, base64 in three alignments, percent, JSON and shell forms, lines of multi-line
/// values). Overlapping and adjacent occurrences merge into one replacement. Bytes that are not
/// part of any occurrence come out unchanged: nothing is masked by similarity, case-folding or
/// guesswork.
///
/// Cost: building is linear in the total length of the patterns; masking is linear in the input,
/// one table lookup per byte, whatever the number of secrets.
///
/// The masker is immutable and `Sendable`: share one across tasks and threads.
public struct SecretMasker: Sendable, CustomStringConvertible, CustomReflectable {
    /// The default replacement text, `***`.
    public static let defaultReplacement: [UInt8] = Array("***".utf8)

    /// Default memory for the automaton's dense rows (4 MiB). Enough for every state of ten
    /// secrets and the hot shallow states of a thousand; deeper states use compact edge lists.
    public static let defaultDenseTableByteLimit = 4 << 20

    let automaton: ByteAutomaton
    /// What each masked run is replaced with.
    public let replacementBytes: [UInt8]

    /// Builds a masker for secret values, masking each in all its encoded forms.
    ///
    /// Values for which ``MaskingPatterns/isTooShortToMask(_:minimumLength:)``
    /// is true are ignored; warn the operator about those when the secret is created.
    /// - Parameters:
    ///   - secrets: Secret values: a text secret's UTF-8 bytes or a file secret's content.
    ///   - minimumLength: Values, lines and forms shorter than this are not masked.
    ///   - replacement: Written once in place of each masked run.
    ///   - denseTableByteLimit: Memory allowed for the fast dense rows of the automaton.
    public init(
        secrets: some Sequence<[UInt8]>,
        minimumLength: Int = MaskingPatterns.defaultMinimumLength,
        replacement: [UInt8] = SecretMasker.defaultReplacement,
        denseTableByteLimit: Int = SecretMasker.defaultDenseTableByteLimit
    ) {
        self.init(
            patterns: MaskingPatterns.patterns(for: secrets, minimumLength: minimumLength),
            replacement: replacement,
            denseTableByteLimit: denseTableByteLimit
        )
    }

    /// Builds a masker for text secrets (their UTF-8 bytes), masking each in all its encoded forms.
    public init(
        secrets: some Sequence<String>,
        minimumLength: Int = MaskingPatterns.defaultMinimumLength,
        replacement: String = "***"
    ) {
        self.init(
            secrets: secrets.map { Array($0.utf8) },
            minimumLength: minimumLength,
            replacement: Array(replacement.utf8)
        )
    }

    /// Builds a masker for exactly these byte patterns, with no encoded forms added and no
    /// minimum length applied (empty patterns are ignored). For callers that compute their own
    /// patterns, and for tests.
    public init(
        patterns: [[UInt8]],
        replacement: [UInt8] = SecretMasker.defaultReplacement,
        denseTableByteLimit: Int = SecretMasker.defaultDenseTableByteLimit
    ) {
        automaton = ByteAutomaton(patterns: patterns, denseTableByteLimit: denseTableByteLimit)
        replacementBytes = replacement
    }

    /// A masker that masks nothing.
    public static let empty = SecretMasker(patterns: [])

    /// Number of patterns compiled (duplicates included if given to ``init(patterns:replacement:denseTableByteLimit:)``).
    public var patternCount: Int { automaton.patternCount }
    /// Length of the longest pattern; a stream holds back at most one byte less.
    public var longestPatternLength: Int { automaton.longestPatternLength }
    /// Number of automaton states (about the total length of the patterns).
    public var stateCount: Int { automaton.stateCount }
    /// Whether the masker has no patterns and passes everything through.
    public var isEmpty: Bool { automaton.patternCount == 0 }

    /// Masks a complete buffer.
    public func mask(_ bytes: [UInt8]) -> [UInt8] {
        var stream = MaskingStream(masker: self)
        var output = stream.process(bytes)
        output.append(contentsOf: stream.finish())
        return output
    }

    /// Masks a complete string (as UTF-8).
    ///
    /// Patterns from valid UTF-8 secrets start and end on character boundaries, so the result is
    /// valid UTF-8 whenever the input is.
    public func mask(_ string: String) -> String {
        String(decoding: mask(Array(string.utf8)), as: UTF8.self)
    }

    /// A new stream that applies this masker.
    public func makeStream() -> MaskingStream {
        MaskingStream(masker: self)
    }

    // The automaton encodes the secrets; keep it out of logs and dumps.
    public var description: String {
        "SecretMasker(patterns: \(patternCount), states: \(stateCount))"
    }
    public var customMirror: Mirror { Mirror(self, children: []) }
}
