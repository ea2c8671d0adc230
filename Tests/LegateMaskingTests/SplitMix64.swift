/// A small, seeded, deterministic random number generator (SplitMix64), so that every property
/// test failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

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
