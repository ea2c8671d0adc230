import Foundation
import LegateWire
import Synchronization

/// A snapshot of what the agent is doing, for `legate health`, sd_notify status lines, metrics, the demo and tests.
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
    /// Registration attempts so far, failed ones included.
    public var registrationAttempts = 0
    /// Why the last registration attempt failed; nil once registered.
    public var lastRegistrationError: String?
    /// When the manager last acknowledged a heartbeat (or accepted a registration).
    public var lastHeartbeatAck: Date?
    /// Failed secret resolutions and secret tasks, keyed by ``ErrorOrigin`` raw value
    /// (`external`: the provider failed; `configuration`: a connector or reference is wrong).
    public var providerErrors: [String: Int] = [:]

    public init() {}
}

/// Thread-safe holder of the agent's ``AgentStatus``; observers get every change.
public final class AgentMonitor: Sendable {
    private let state = Mutex(AgentStatus())
    private let observer: (@Sendable (AgentStatus) -> Void)?
    private let pulse: (@Sendable (ContinuousClock.Instant) -> Void)?

    /// `observer` gets every changed status. `pulse` is called by the agent's event loop on every
    /// tick (about ten times a second) once it runs: proof of life for watchdogs, which must stop
    /// when the loop is stuck even though nothing else changes.
    public init(observer: (@Sendable (AgentStatus) -> Void)? = nil, pulse: (@Sendable (ContinuousClock.Instant) -> Void)? = nil) {
        self.observer = observer
        self.pulse = pulse
    }

    public var status: AgentStatus { state.withLock { $0 } }

    func update(_ change: (inout AgentStatus) -> Void) {
        let (changed, now) = state.withLock { s -> (Bool, AgentStatus) in
            let before = s
            change(&s)
            return (before != s, s)
        }
        if changed { observer?(now) }
    }

    /// Called from the event loop's tick.
    func loopTick(now: ContinuousClock.Instant) { pulse?(now) }
}
