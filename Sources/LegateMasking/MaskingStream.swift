/// Masks a byte stream chunk by chunk, catching secrets that are split across chunks.
///
/// Feed every chunk to ``process(_:)`` and write out what it returns; call ``finish()`` at the end
/// of the stream and write that out too. The concatenated output is exactly
/// `masker.mask(concatenated input)` however the input was cut into chunks.
///
/// To achieve that, the stream holds back the bytes at the end of a chunk that could still be the
/// start of a secret — never more than the longest pattern's length minus one, and nothing at all
/// when the chunk ends in the middle of no pattern. Bytes already known to be part of a secret are
/// never held: the replacement is written as soon as a masked run starts, and the rest of the run
/// is dropped as it arrives, so even an endless repetition of a secret does not grow the buffer.
///
/// Thread safety: a value type with mutating methods, so one stream must not be mutated from two
/// tasks at once (the compiler enforces this). Make one stream per output channel (task stdout,
/// stderr, the agent's own log); they can share one ``SecretMasker``.
public struct MaskingStream: Sendable, CustomStringConvertible, CustomReflectable {
    /// A run of covered positions, absolute in the stream; `end` is inclusive.
    private struct Interval: Sendable {
        var start: Int
        var end: Int
    }

    /// The masker this stream applies.
    public let masker: SecretMasker

    private var state: UInt32 = ByteAutomaton.root
    /// Absolute position of the next input byte.
    private var position = 0
    /// Absolute position of the first byte not yet decided (everything before it has been output).
    private var cursor = 0
    /// Input bytes from `cursor` to `position`, not yet output.
    private var pending: [UInt8] = []
    /// Covered runs at or after `cursor`, sorted, disjoint and not adjacent.
    private var intervals: ContiguousArray<Interval> = []
    /// Whether the last decided byte was covered, so a covered run continuing it adds no replacement.
    private var inMask = false

    /// Creates a stream that applies `masker`.
    public init(masker: SecretMasker) {
        self.masker = masker
    }

    /// Number of input bytes held back because they could still be the start of a secret.
    public var heldBackCount: Int { pending.count }

    /// Masks the next chunk and returns the output that is now final.
    ///
    /// The result may be shorter than the chunk (bytes held back, secrets replaced) or longer
    /// (held-back bytes of earlier chunks released).
    public mutating func process(_ chunk: [UInt8]) -> [UInt8] {
        guard !chunk.isEmpty else { return [] }
        let automaton = masker.automaton
        let chunkStart = position
        let consumed = cursor
        var intervals = self.intervals
        self.intervals = []
        var state = self.state

        chunk.withUnsafeBufferPointer { input in
            automaton.scan(input, state: &state) { end, length in
                // A match can reach back into bytes already output only through covered bytes
                // (uncovered ones are output only once no match can reach them), so clipping it
                // at the cursor keeps it contiguous with the run that `inMask` continues.
                let matchEnd = chunkStart + end
                var start = max(matchEnd - length + 1, consumed)
                // Matches arrive in order of their end, so only the last runs can overlap or touch.
                while let last = intervals.last, start <= last.end + 1 {
                    start = min(start, last.start)
                    intervals.removeLast()
                }
                intervals.append(Interval(start: start, end: matchEnd))
            }
        }

        self.state = state
        position = chunkStart + chunk.count
        self.intervals = intervals
        // Bytes before `settled` can no longer become part of a match: any future match starts
        // within the last depth(state) bytes, the suffix the automaton is still following.
        let settled = position - automaton.depth(of: state)
        return emit(upTo: settled, chunk: chunk, chunkStart: chunkStart)
    }

    /// Ends the stream: returns everything still held back, masked. The stream can then be reused
    /// for a new, independent stream.
    public mutating func finish() -> [UInt8] {
        let output = emit(upTo: position, chunk: [], chunkStart: position)
        self = MaskingStream(masker: masker)
        return output
    }

    /// Outputs every byte whose fate is known: uncovered bytes before `settled`, and covered runs
    /// from the cursor on (a covered byte stays covered, so it never needs holding back).
    private mutating func emit(upTo settled: Int, chunk: [UInt8], chunkStart: Int) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(pending.count + chunk.count)
        let pendingStart = cursor
        let replacement = masker.replacementBytes

        // Appends input bytes [from, to) from the held-back bytes and the current chunk.
        func appendInput(_ from: Int, _ to: Int) {
            if from < chunkStart {
                output.append(contentsOf: pending[(from - pendingStart)..<(min(to, chunkStart) - pendingStart)])
            }
            if to > chunkStart {
                output.append(contentsOf: chunk[(max(from, chunkStart) - chunkStart)..<(to - chunkStart)])
            }
        }

        var next = 0
        var cursor = self.cursor
        while true {
            let coverStart = next < intervals.count ? intervals[next].start : Int.max
            let rawEnd = min(coverStart, settled)
            if rawEnd > cursor {
                appendInput(cursor, rawEnd)
                cursor = rawEnd
                inMask = false
            }
            guard next < intervals.count, cursor == intervals[next].start else { break }
            if !inMask {
                output.append(contentsOf: replacement)
                inMask = true
            }
            cursor = intervals[next].end + 1
            next += 1
        }
        intervals.removeFirst(next)

        // Keep the undecided bytes [cursor, position).
        var rest: [UInt8] = []
        if cursor < position {
            rest.reserveCapacity(position - cursor)
            if cursor < chunkStart {
                rest.append(contentsOf: pending[(cursor - pendingStart)...])
            }
            rest.append(contentsOf: chunk[(max(cursor, chunkStart) - chunkStart)...])
        }
        pending = rest
        self.cursor = cursor
        return output
    }

    // A stream holds secret bytes (held back, not yet masked); keep them out of logs and dumps.
    public var description: String { "MaskingStream(heldBack: \(pending.count) bytes)" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}
