import LegateCore

/// Helpers on the shared seeded generator (LegateCore.SplitMix64).
extension SplitMix64 {
    /// Random bytes drawn from `alphabet`.
    mutating func bytes(count: Int, from alphabet: [UInt8]) -> [UInt8] {
        (0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &self)] }
    }

    /// Cuts `input` into chunks of random sizes between 1 and `maxChunk` (empty chunks included
    /// now and then, since callers may pass them).
    mutating func chunks(of input: [UInt8], maxChunk: Int) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var index = 0
        while index < input.count {
            if Int.random(in: 0..<10, using: &self) == 0 { result.append([]) }
            let size = Int.random(in: 1...max(1, maxChunk), using: &self)
            let end = min(input.count, index + size)
            result.append(Array(input[index..<end]))
            index = end
        }
        return result
    }
}
