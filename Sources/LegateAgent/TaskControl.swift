import Synchronization

/// Shared between the agent loop and one running task: a one-way "stop" switch with its reason.
final class TaskControl: Sendable {
    enum StopReason: Sendable, Equatable {
        case abortedByManager
        case shutdown
    }

    private let state = Mutex<StopReason?>(nil)

    func stop(_ reason: StopReason) {
        state.withLock { if $0 == nil { $0 = reason } }
    }

    var stopReason: StopReason? { state.withLock { $0 } }
}
