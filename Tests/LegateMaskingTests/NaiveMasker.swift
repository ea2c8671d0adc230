/// The specification of masking, written as plainly as possible to check the automaton against:
/// mark every byte covered by any occurrence of any pattern, then replace each maximal run of
/// covered bytes with the replacement.
enum NaiveMasker {
    static func mask(_ input: [UInt8], patterns: [[UInt8]], replacement: [UInt8] = Array("***".utf8)) -> [UInt8] {
        var covered = [Bool](repeating: false, count: input.count)
        for pattern in patterns where !pattern.isEmpty && pattern.count <= input.count {
            for start in 0...(input.count - pattern.count)
            where input[start..<(start + pattern.count)].elementsEqual(pattern) {
                for index in start..<(start + pattern.count) { covered[index] = true }
            }
        }
        var output: [UInt8] = []
        var index = 0
        while index < input.count {
            if covered[index] {
                output.append(contentsOf: replacement)
                while index < input.count && covered[index] { index += 1 }
            } else {
                output.append(input[index])
                index += 1
            }
        }
        return output
    }

    /// Whether `haystack` contains `needle` as a contiguous run.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard needle.count <= haystack.count else { return false }
        // Written with raw buffers: the property tests call this often, in debug builds.
        return haystack.withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { pin in
                let first = pin[0]
                var start = 0
                while start + pin.count <= hay.count {
                    if hay[start] == first {
                        var offset = 1
                        while offset < pin.count && hay[start + offset] == pin[offset] { offset += 1 }
                        if offset == pin.count { return true }
                    }
                    start += 1
                }
                return false
            }
        }
    }
}
