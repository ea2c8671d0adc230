/// A compiled Aho-Corasick automaton over bytes, immutable once built.
///
/// Scanning costs one table lookup per byte whatever the number of patterns. States near the root,
/// where scanning spends nearly all its time, get a dense row of transitions (one entry per byte
/// class). Deeper states, reached only while the input actually follows a pattern, keep just their
/// trie edges plus a failure link: a full row for each of them would cost about 1 KiB per pattern
/// byte, which is hundreds of megabytes for a thousand secrets in all their encodings. Falling back
/// along failure links is amortised O(1) per byte (each failure step undoes one earlier forward
/// step), so the cost per byte stays independent of the number of patterns either way.
///
/// State identifiers are pre-multiplied: a dense state's identifier is its row offset in the table,
/// so the hot loop is `entry = table[state + class]` with no multiplication in the dependency chain.
/// Sparse states are numbered after the table (`state >= denseLimit`). Transition entries carry
/// ``matchFlag`` when the target state ends a pattern, so the loop tests a bit instead of loading a
/// second array per byte.
final class ByteAutomaton: Sendable {
    static let matchFlag: UInt32 = 0x8000_0000
    static let stateMask: UInt32 = 0x7FFF_FFFF
    /// The root's identifier (dense state 0, row offset 0).
    static let root: UInt32 = 0

    /// Byte → class. Class 0 holds every byte that occurs in no pattern; it always leads to the root.
    let byteClass: ContiguousArray<UInt16>
    let classCount: Int
    /// Number of states with a dense row (always at least 1: the root).
    let denseStateCount: Int
    /// `denseStateCount * classCount`: identifiers at or above it are sparse states.
    let denseLimit: UInt32
    /// Dense rows, `denseStateCount × classCount` entries of (target identifier | match flag).
    let table: ContiguousArray<UInt32>
    /// Per state index: failure link (a state index).
    let failure: ContiguousArray<UInt32>
    /// Per state index: length of the longest pattern prefix the state stands for.
    let depth: ContiguousArray<Int32>
    /// Per state index: length of the longest pattern that ends in this state (0 if none).
    let matchLength: ContiguousArray<Int32>
    /// Trie edges of every state in CSR form, sorted by class; targets are flagged identifiers.
    let edgeStart: ContiguousArray<UInt32>
    let edgeClass: ContiguousArray<UInt16>
    let edgeTarget: ContiguousArray<UInt32>

    let stateCount: Int
    let patternCount: Int
    let longestPatternLength: Int

    /// Builds the automaton.
    /// - Parameters:
    ///   - patterns: Non-empty patterns (empty ones are ignored); duplicates are harmless.
    ///   - denseTableByteLimit: Memory allowed for dense rows; the root always gets one.
    init(patterns: [[UInt8]], denseTableByteLimit: Int) {
        let patterns = patterns.filter { !$0.isEmpty }
        patternCount = patterns.count
        longestPatternLength = patterns.map(\.count).max() ?? 0

        // Byte classes: bytes that occur in patterns get their own class, all others share class 0.
        // This shrinks dense rows from 256 entries to (distinct pattern bytes + 1).
        var present = [Bool](repeating: false, count: 256)
        for pattern in patterns {
            for byte in pattern { present[Int(byte)] = true }
        }
        var byteClass = ContiguousArray<UInt16>(repeating: 0, count: 256)
        var nextClass: UInt16 = 1
        for byte in 0..<256 where present[byte] {
            byteClass[byte] = nextClass
            nextClass += 1
        }
        let classCount = Int(nextClass)
        self.byteClass = byteClass
        self.classCount = classCount

        // 1. Trie, in insertion order, children as sibling lists (cheap to build, no per-node arrays).
        let totalBytes = patterns.reduce(0) { $0 + $1.count }
        var firstChild: [Int32] = [-1]
        var nextSibling: [Int32] = [-1]
        var label: [UInt16] = [0]
        var terminal: [Bool] = [false]
        firstChild.reserveCapacity(totalBytes + 1)
        nextSibling.reserveCapacity(totalBytes + 1)
        label.reserveCapacity(totalBytes + 1)
        terminal.reserveCapacity(totalBytes + 1)
        for pattern in patterns {
            var node = 0
            for byte in pattern {
                let cls = byteClass[Int(byte)]
                var child = firstChild[node]
                while child >= 0 && label[Int(child)] != cls {
                    child = nextSibling[Int(child)]
                }
                if child < 0 {
                    child = Int32(label.count)
                    firstChild.append(-1)
                    nextSibling.append(firstChild[node])
                    label.append(cls)
                    terminal.append(false)
                    firstChild[node] = child
                }
                node = Int(child)
            }
            terminal[node] = true
        }
        let stateCount = label.count
        self.stateCount = stateCount

        // 2. Renumber breadth-first, so that every state's failure target (which is shallower) has a
        //    smaller index and the dense states are a prefix of the numbering.
        var order = [Int32](repeating: 0, count: stateCount)  // new index → old node
        var newIndex = [Int32](repeating: 0, count: stateCount)  // old node → new index
        var depth = ContiguousArray<Int32>(repeating: 0, count: stateCount)
        var head = 0
        var tail = 1
        while head < tail {
            let old = Int(order[head])
            var child = firstChild[old]
            while child >= 0 {
                order[tail] = child
                newIndex[Int(child)] = Int32(tail)
                depth[tail] = depth[head] + 1
                tail += 1
                child = nextSibling[Int(child)]
            }
            head += 1
        }

        let denseStateCount = max(1, min(stateCount, max(0, denseTableByteLimit) / 4 / classCount))
        let denseLimit = denseStateCount * classCount
        self.denseStateCount = denseStateCount
        self.denseLimit = UInt32(denseLimit)

        func identifier(_ index: Int) -> UInt32 {
            index < denseStateCount ? UInt32(index * classCount) : UInt32(denseLimit + index - denseStateCount)
        }
        func index(_ identifier: UInt32) -> Int {
            let id = Int(identifier & ByteAutomaton.stateMask)
            return id < denseLimit ? id / classCount : denseStateCount + id - denseLimit
        }

        // 3. Edges in CSR form by new index, sorted by class (the sibling lists are in reverse
        //    insertion order). Targets are stored as plain indices until match lengths are known.
        var edgeStart = ContiguousArray<UInt32>(repeating: 0, count: stateCount + 1)
        var edgeClass = ContiguousArray<UInt16>()
        var edgeIndex = ContiguousArray<UInt32>()
        edgeClass.reserveCapacity(stateCount)
        edgeIndex.reserveCapacity(stateCount)
        var scratch: [(UInt16, UInt32)] = []
        for state in 0..<stateCount {
            edgeStart[state] = UInt32(edgeClass.count)
            scratch.removeAll(keepingCapacity: true)
            var child = firstChild[Int(order[state])]
            while child >= 0 {
                scratch.append((label[Int(child)], UInt32(newIndex[Int(child)])))
                child = nextSibling[Int(child)]
            }
            scratch.sort { $0.0 < $1.0 }
            for (cls, target) in scratch {
                edgeClass.append(cls)
                edgeIndex.append(target)
            }
        }
        edgeStart[stateCount] = UInt32(edgeClass.count)
        let isTerminal = order.map { terminal[Int($0)] }
        // The trie scaffolding is no longer needed; free it before allocating the table.
        firstChild = []
        nextSibling = []
        label = []
        terminal = []
        newIndex = []
        order = []

        // 4. Failure links, match lengths and dense rows, breadth-first.
        var failure = ContiguousArray<UInt32>(repeating: 0, count: stateCount)
        var matchLength = ContiguousArray<Int32>(repeating: 0, count: stateCount)
        var table = ContiguousArray<UInt32>(repeating: ByteAutomaton.root, count: denseLimit)

        func findEdge(_ state: Int, _ cls: UInt16) -> Int? {
            var low = Int(edgeStart[state])
            var high = Int(edgeStart[state + 1])
            while low < high {
                let mid = (low + high) / 2
                if edgeClass[mid] < cls { low = mid + 1 } else { high = mid }
            }
            return low < Int(edgeStart[state + 1]) && edgeClass[low] == cls ? low : nil
        }
        // Transition from an already finished state, as a state index.
        func transition(_ start: Int, _ cls: UInt16) -> Int {
            var state = start
            while true {
                if state < denseStateCount { return index(table[state * classCount + Int(cls)]) }
                if let edge = findEdge(state, cls) { return Int(edgeIndex[edge]) }
                state = Int(failure[state])
            }
        }
        func flagged(_ index: Int) -> UInt32 {
            identifier(index) | (matchLength[index] > 0 ? ByteAutomaton.matchFlag : 0)
        }

        for state in 0..<stateCount {
            let edges = Int(edgeStart[state])..<Int(edgeStart[state + 1])
            for edge in edges {
                let child = Int(edgeIndex[edge])
                let fail = state == 0 ? 0 : transition(Int(failure[state]), edgeClass[edge])
                failure[child] = UInt32(fail)
                // The longest pattern ending here is the state's own string if it is a pattern,
                // else the longest one ending at its failure state (its longest proper suffix).
                matchLength[child] = isTerminal[child] ? depth[child] : matchLength[fail]
            }
            if state < denseStateCount {
                let row = state * classCount
                if state != 0 {
                    // Missing transitions behave as from the failure state, whose row (earlier in
                    // breadth-first order) is finished. It has class 0 → root, as the root's row.
                    let failRow = Int(failure[state]) * classCount
                    table.withUnsafeMutableBufferPointer { rows in
                        guard let base = rows.baseAddress else { return }
                        (base + row).update(from: base + failRow, count: classCount)
                    }
                }
                for edge in edges {
                    table[row + Int(edgeClass[edge])] = flagged(Int(edgeIndex[edge]))
                }
            }
        }
        var edgeTarget = ContiguousArray<UInt32>()
        edgeTarget.reserveCapacity(edgeIndex.count)
        for target in edgeIndex { edgeTarget.append(flagged(Int(target))) }

        self.table = table
        self.failure = failure
        self.depth = depth
        self.matchLength = matchLength
        self.edgeStart = edgeStart
        self.edgeClass = edgeClass
        self.edgeTarget = edgeTarget
    }

    /// The state index of an identifier.
    @inline(__always)
    func stateIndex(_ identifier: UInt32) -> Int {
        let id = Int(identifier & ByteAutomaton.stateMask)
        return id < Int(denseLimit) ? id / classCount : denseStateCount + id - Int(denseLimit)
    }

    /// Length of the longest pattern prefix that ends the input read so far in `state`: how many
    /// trailing bytes could still become part of a match.
    func depth(of state: UInt32) -> Int {
        Int(depth[stateIndex(state)])
    }

    /// Length of the longest pattern ending in `state`.
    @inline(__always)
    func matchLength(of state: UInt32) -> Int {
        Int(matchLength[stateIndex(state)])
    }

    /// Transition out of a sparse state, following failure links until a state has an edge for
    /// `cls` or has a dense row. Returns a flagged identifier.
    @inline(never)
    func sparseStep(_ state: UInt32, _ cls: Int) -> UInt32 {
        if cls == 0 { return ByteAutomaton.root }
        var index = stateIndex(state)
        let wanted = UInt16(cls)
        while index >= denseStateCount {
            var low = Int(edgeStart[index])
            let end = Int(edgeStart[index + 1])
            var high = end
            while low < high {
                let mid = (low + high) / 2
                if edgeClass[mid] < wanted { low = mid + 1 } else { high = mid }
            }
            if low < end && edgeClass[low] == wanted { return edgeTarget[low] }
            index = Int(failure[index])
        }
        return table[index * classCount + cls]
    }

    /// Runs the automaton over `input` starting in `state`, calling `onMatch(i, length)` for every
    /// position `i` where a pattern ends, with the length of the longest pattern ending there.
    @inline(__always)
    func scan(
        _ input: UnsafeBufferPointer<UInt8>, state: inout UInt32, onMatch: (_ end: Int, _ length: Int) -> Void
    ) {
        var current = state
        let limit = denseLimit
        byteClass.withUnsafeBufferPointer { classes in
            table.withUnsafeBufferPointer { rows in
                if denseStateCount == stateCount {
                    // Every state is dense (the usual case for tens of secrets): no sparse branch.
                    for position in 0..<input.count {
                        let entry = rows[Int(current) &+ Int(classes[Int(input[position])])]
                        current = entry & ByteAutomaton.stateMask
                        if entry & ByteAutomaton.matchFlag != 0 {
                            onMatch(position, matchLength(of: current))
                        }
                    }
                    return
                }
                for position in 0..<input.count {
                    let cls = Int(classes[Int(input[position])])
                    let entry =
                        current < limit ? rows[Int(current) &+ cls] : sparseStep(current, cls)
                    current = entry & ByteAutomaton.stateMask
                    if entry & ByteAutomaton.matchFlag != 0 {
                        onMatch(position, matchLength(of: current))
                    }
                }
            }
        }
        state = current
    }
}
