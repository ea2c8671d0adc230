import LegateCore
import LegateWire

/// The agent's connection logic as a pure value: it owns the choice between the WebSocket stream
/// and HTTPS polling, heartbeat timing, missed-ack detection, socket retry backoff and session
/// refresh timing. Inputs are events and the current time; outputs are ``Action``s the I/O layer
/// performs. No clocks, sockets or randomness inside — tests drive it with made-up instants.
public struct ConnectionStateMachine: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public struct Configuration: Sendable, Equatable {
        public var heartbeatInterval: Duration
        /// Consecutive unanswered socket heartbeats after which the socket counts as dead.
        public var missedAcksAllowed: Int
        /// Delay between socket attempts while polling; capped at the heartbeat interval so a healed
        /// socket is back within about one interval.
        public var socketRetry: Backoff
        /// How long a socket connect may take before it is abandoned.
        public var connectTimeout: Duration

        public init(heartbeatInterval: Duration, missedAcksAllowed: Int = 2, socketRetry: Backoff? = nil, connectTimeout: Duration? = nil) {
            self.heartbeatInterval = heartbeatInterval
            self.missedAcksAllowed = max(1, missedAcksAllowed)
            self.socketRetry = socketRetry ?? Backoff(initial: heartbeatInterval / 8, maximum: heartbeatInterval, jitter: 0.5)
            self.connectTimeout = connectTimeout ?? max(heartbeatInterval, .seconds(5))
        }
    }

    public enum Action: Sendable, Equatable {
        case openSocket
        case closeSocket
        case sendHeartbeat(seq: UInt64, via: ConnectionMode)
        case startPolling
        case stopPolling
        case modeChanged(ConnectionMode)
        case refreshSession
    }

    enum Socket: Sendable, Equatable {
        /// Not connected; next attempt at `retryAt`.
        case idle(retryAt: Instant)
        case connecting(since: Instant)
        /// Connected but not yet proven: polling continues until the first heartbeat is acknowledged.
        case probation(since: Instant)
        case up
    }

    public let configuration: Configuration
    private(set) var socket: Socket
    public private(set) var polling = false
    private var started = false
    private var seq: UInt64 = 0
    /// Unacknowledged socket heartbeats: sequence number and send time.
    private var outstanding: [(seq: UInt64, sentAt: Instant)] = []
    private var nextHeartbeatAt: Instant
    private var retryAttempt = 0
    private var sessionRefreshAt: Instant?
    private var refreshing = false

    public init(configuration: Configuration, now: Instant) {
        self.configuration = configuration
        self.socket = .idle(retryAt: now)
        self.nextHeartbeatAt = now
    }

    /// How notices arrive now: `.socket` only once the stream has answered a heartbeat.
    public var mode: ConnectionMode { socket == .up ? .socket : .polling }

    public var lastSequence: UInt64 { seq }

    // MARK: Events

    /// The socket connected (upgrade done). It is on probation until a heartbeat is acknowledged.
    public mutating func socketConnected(now: Instant) -> [Action] {
        guard case .connecting = socket else { return [] }
        socket = .probation(since: now)
        return [nextHeartbeat(via: .socket, now: now)]
    }

    /// The socket closed or failed to connect. Fall back to polling and schedule a retry.
    public mutating func socketFailed(now: Instant, jitter unit: Double) -> [Action] {
        if case .idle = socket { return [] }
        var actions: [Action] = []
        let wasUp = socket == .up
        let delay = configuration.socketRetry.delay(attempt: retryAttempt, unit: unit)
        retryAttempt += 1
        socket = .idle(retryAt: now + delay)
        outstanding = []
        if !polling {
            polling = true
            actions.append(.startPolling)
        }
        if wasUp || !started {
            actions.append(.modeChanged(.polling))
        }
        started = true
        if wasUp {
            // Heartbeats now go over HTTP; send one right away so the manager keeps seeing us.
            nextHeartbeatAt = now
        }
        return actions
    }

    public mutating func heartbeatAcknowledged(seq acked: UInt64, now: Instant) -> [Action] {
        outstanding.removeAll { $0.seq <= acked }
        guard case .probation = socket else { return [] }
        socket = .up
        started = true
        retryAttempt = 0
        var actions: [Action] = []
        if polling {
            polling = false
            actions.append(.stopPolling)
        }
        actions.append(.modeChanged(.socket))
        return actions
    }

    /// A session token was obtained; plan its refresh at 80% of its lifetime.
    public mutating func sessionIssued(now: Instant, validFor: Duration) {
        refreshing = false
        sessionRefreshAt = now + validFor * 0.8
    }

    public mutating func sessionRefreshFailed(now: Instant) {
        refreshing = false
        sessionRefreshAt = now + .seconds(5)
    }

    /// Called on a regular tick. Drives timeouts, retries, heartbeats and session refresh.
    public mutating func tick(now: Instant, jitter unit: Double) -> [Action] {
        var actions: [Action] = []
        switch socket {
        case .idle(let retryAt) where now >= retryAt:
            socket = .connecting(since: now)
            actions.append(.openSocket)
        case .connecting(let since) where now - since >= configuration.connectTimeout:
            actions.append(.closeSocket)
            actions += socketFailed(now: now, jitter: unit)
        case .probation(let since) where now - since >= configuration.heartbeatInterval:
            actions.append(.closeSocket)
            actions += socketFailed(now: now, jitter: unit)
        case .up:
            let missed = outstanding.filter { now - $0.sentAt >= configuration.heartbeatInterval }.count
            if missed >= configuration.missedAcksAllowed {
                actions.append(.closeSocket)
                actions += socketFailed(now: now, jitter: unit)
            }
        default:
            break
        }
        if now >= nextHeartbeatAt {
            actions.append(nextHeartbeat(via: mode, now: now))
        }
        if let at = sessionRefreshAt, now >= at, !refreshing {
            refreshing = true
            actions.append(.refreshSession)
        }
        return actions
    }

    private mutating func nextHeartbeat(via: ConnectionMode, now: Instant) -> Action {
        seq += 1
        if via == .socket { outstanding.append((seq, now)) }
        nextHeartbeatAt = now + configuration.heartbeatInterval
        return .sendHeartbeat(seq: seq, via: via)
    }
}
