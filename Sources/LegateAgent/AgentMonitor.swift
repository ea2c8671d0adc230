import LegateWire
import Synchronization

/// A snapshot of what the agent is doing, for `legate health`, sd_notify status lines, the demo and tests.
public struct AgentStatus: Sendable, Equatable {
    public var registered = false
    public var delegateId: String?
    public var mode: ConnectionMode?
    public var running = 0
    public var draining = false
    public var registrations = 0
    public var fallbacksToPolling = 0
    public var returnsToSocket = 0
    public var tasksCompleted = 0
    public var sessionRefreshes = 0

    public init() {}
}

/// Thread-safe holder of the agent's ``AgentStatus``; observers get every change.
public final class AgentMonitor: Sendable {
    private let state = Mutex(AgentStatus())
    private let observer: (@Sendable (AgentStatus) -> Void)?

    public init(observer: (@Sendable (AgentStatus) -> Void)? = nil) { self.observer = observer }

    public var status: AgentStatus { state.withLock { $0 } }

    func update(_ change: (inout AgentStatus) -> Void) {
        let (changed, now) = state.withLock { s -> (Bool, AgentStatus) in
            let before = s
            change(&s)
            return (before != s, s)
        }
        if changed { observer?(now) }
    }
}
