import LegateWire

/// In-memory outbound queues, one per delegate, shared by the WebSocket stream and the long-poll
/// endpoint so both paths deliver the same notices. Nothing here is durable: every notice can be
/// re-derived from the task queue, which is how a (re)connecting delegate is seeded.
actor DelegateHub {
    private struct Mailbox {
        var pending: [StreamMessage] = []
        var noticed: Set<String> = []
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var streams = 0
    }

    /// Upper bound on queued messages per delegate; older notices are dropped first (they come back
    /// when the mailbox is next seeded from the queue).
    static let maxPending = 4096

    private var boxes: [String: Mailbox] = [:]
    private var nextWaiter: UInt64 = 0
    private(set) var policy: StreamPolicy = .open

    func push(_ message: StreamMessage, to delegateId: String) {
        var box = boxes[delegateId, default: Mailbox()]
        if case .taskNotice(let id) = message {
            guard box.noticed.insert(id).inserted else { return }
        }
        box.pending.append(message)
        if box.pending.count > Self.maxPending, let i = box.pending.firstIndex(where: { if case .taskNotice = $0 { true } else { false } }) {
            if case .taskNotice(let id) = box.pending.remove(at: i) { box.noticed.remove(id) }
        }
        boxes[delegateId] = box
        wakeAll(delegateId)
    }

    func hasPending(_ delegateId: String) -> Bool { !(boxes[delegateId]?.pending.isEmpty ?? true) }

    /// Removes and returns up to `max` pending messages.
    func take(_ delegateId: String, max: Int = 256) -> [StreamMessage] {
        guard var box = boxes[delegateId], !box.pending.isEmpty else { return [] }
        let n = min(max, box.pending.count)
        let out = Array(box.pending.prefix(n))
        box.pending.removeFirst(n)
        for m in out { if case .taskNotice(let id) = m { box.noticed.remove(id) } }
        boxes[delegateId] = box
        return out
    }

    func makeWaiterId() -> UInt64 {
        nextWaiter &+= 1
        return nextWaiter
    }

    /// Returns when a message is pending, the policy changes, or ``release(_:waiter:)`` is called.
    func wait(_ delegateId: String, waiter: UInt64) async {
        if hasPending(delegateId) { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            boxes[delegateId, default: Mailbox()].waiters[waiter] = c
        }
    }

    func release(_ delegateId: String, waiter: UInt64) {
        boxes[delegateId]?.waiters.removeValue(forKey: waiter)?.resume()
    }

    private func wakeAll(_ delegateId: String) {
        guard var box = boxes[delegateId], !box.waiters.isEmpty else { return }
        let waiters = box.waiters.values
        box.waiters = [:]
        boxes[delegateId] = box
        for w in waiters { w.resume() }
    }

    func streamOpened(_ delegateId: String) { boxes[delegateId, default: Mailbox()].streams += 1 }
    func streamClosed(_ delegateId: String) { boxes[delegateId]?.streams -= 1 }
    func hasStream(_ delegateId: String) -> Bool { (boxes[delegateId]?.streams ?? 0) > 0 }

    func setPolicy(_ policy: StreamPolicy) {
        self.policy = policy
        for id in boxes.keys { wakeAll(id) }
    }

    /// Forgets a delegate that was declared lost or revoked; its waiters are released.
    func drop(_ delegateId: String) {
        wakeAll(delegateId)
        if let box = boxes[delegateId], box.streams == 0 { boxes[delegateId] = nil } else {
            boxes[delegateId]?.pending = []
            boxes[delegateId]?.noticed = []
        }
    }
}
