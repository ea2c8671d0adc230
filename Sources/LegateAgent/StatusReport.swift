import Foundation
import LegateCore
import LegateWire

/// The agent's status file, `<state_dir>/status.json`: what `legate health` reads. The agent
/// rewrites it atomically on every phase change and at least every few seconds from its event loop,
/// so a stale file means the agent is gone or its loop is stuck. Times are milliseconds since the
/// epoch, as on the wire.
public struct StatusReport: Codable, Sendable, Equatable {
    /// What the agent is doing, coarsely.
    public enum Phase: String, Codable, Sendable {
        /// Trying to register with the manager (start-up, or the manager is unreachable).
        case registering
        /// Registered; the first connection mode is being decided.
        case connecting
        /// Receiving notices over the WebSocket stream.
        case socket
        /// Receiving notices by HTTPS long-polling (the stream is down or silent).
        case polling
        /// Stopping: no new tasks, running ones finishing within the drain grace.
        case draining
        /// The agent exited; `exitReason` says why.
        case stopped
    }

    /// The file's name inside the state directory.
    public static let fileName = "status.json"
    /// The format of this file; bumped on incompatible changes.
    public var formatVersion = 1
    public var pid: Int32
    public var phase: Phase
    public var startedAtMs: Int64
    public var updatedAtMs: Int64
    public var managerURL: String
    public var delegateId: String?
    public var running: Int
    public var capacity: Int
    public var lastHeartbeatAckAtMs: Int64?
    /// The last registration failure while `registering`.
    public var lastError: String?
    /// Where Prometheus metrics are served (`host:port`), when enabled.
    public var metricsAddress: String?
    /// Why the agent stopped, when `stopped`.
    public var exitReason: String?

    public init(
        pid: Int32, phase: Phase, startedAtMs: Int64, updatedAtMs: Int64, managerURL: String, delegateId: String? = nil,
        running: Int = 0, capacity: Int, lastHeartbeatAckAtMs: Int64? = nil, lastError: String? = nil,
        metricsAddress: String? = nil, exitReason: String? = nil
    ) {
        self.pid = pid
        self.phase = phase
        self.startedAtMs = startedAtMs
        self.updatedAtMs = updatedAtMs
        self.managerURL = managerURL
        self.delegateId = delegateId
        self.running = running
        self.capacity = capacity
        self.lastHeartbeatAckAtMs = lastHeartbeatAckAtMs
        self.lastError = lastError
        self.metricsAddress = metricsAddress
        self.exitReason = exitReason
    }

    /// The phase an ``AgentStatus`` is in.
    public static func phase(of s: AgentStatus) -> Phase {
        if s.draining { return .draining }
        guard s.registered else { return .registering }
        switch s.mode {
        case .socket: return .socket
        case .polling: return .polling
        case nil: return .connecting
        }
    }

    public static func path(stateDirectory: String) -> String { stateDirectory + "/" + fileName }

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return try e.encode(self)
    }

    /// Reads the status file; nil when it does not exist.
    public static func read(stateDirectory: String) throws -> StatusReport? {
        let path = path(stateDirectory: stateDirectory)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HealthError(
                code: "status_unreadable",
                message: "Cannot read \(path): permission denied. Run `legate health` as the agent's user (or root).")
        }
        do {
            return try JSONDecoder().decode(StatusReport.self, from: data)
        } catch {
            throw HealthError(code: "status_invalid", message: "\(path) is not a Legate status file (\(error)). Is state_dir right?")
        }
    }
}

/// A problem reading the status file (not a verdict about the agent).
public struct HealthError: LegateError {
    public let code: String
    public let message: String
    public var origin: ErrorOrigin { .configuration }
    public var persistence: ErrorPersistence { .permanent }
}

/// The answer of `legate health`.
public struct HealthVerdict: Sendable, Equatable {
    public var healthy: Bool
    /// One line for the operator: the state, or what is wrong and where to look.
    public var summary: String

    /// Judges a status file.
    ///
    /// - `liveness`: only "the agent runs and its event loop is not stuck" (for restart decisions:
    ///   registering, polling and draining are alive). Otherwise ("ready"), the agent must also be
    ///   registered and connected by socket or polling, and not draining.
    /// - `maxAge`: the oldest acceptable `updatedAtMs`; the agent refreshes it every 5 s while its
    ///   loop runs and on each registration attempt (at most ~30 s apart).
    /// - `processAlive`: whether a pid runs (injected; `kill(pid, 0)` in production).
    public static func evaluate(
        _ report: StatusReport?, now: Date, maxAge: Duration, liveness: Bool, processAlive: (Int32) -> Bool
    ) -> HealthVerdict {
        guard let r = report else {
            return HealthVerdict(
                healthy: false,
                summary: "no status file: the agent has not started with this state directory (check state_dir / --state-dir)")
        }
        if r.phase == .stopped {
            return HealthVerdict(healthy: false, summary: "stopped: \(r.exitReason ?? "the agent exited")")
        }
        guard processAlive(r.pid) else {
            return HealthVerdict(healthy: false, summary: "not running: process \(r.pid) is gone (it crashed or was killed; see its logs)")
        }
        let nowMs = Int64((now.timeIntervalSince1970 * 1000).rounded())
        let ageMs = nowMs - r.updatedAtMs
        if ageMs > Int64(maxAge.milliseconds) {
            return HealthVerdict(
                healthy: false,
                summary: "stuck: status not updated for \(ageMs / 1000) s (limit \(Int(maxAge.seconds)) s); the agent's event loop is not running")
        }
        let detail = describe(r, nowMs: nowMs)
        if liveness { return HealthVerdict(healthy: true, summary: "alive: \(detail)") }
        switch r.phase {
        case .socket, .polling: return HealthVerdict(healthy: true, summary: "ready: \(detail)")
        case .registering, .connecting, .draining, .stopped: return HealthVerdict(healthy: false, summary: "not ready: \(detail)")
        }
    }

    static func describe(_ r: StatusReport, nowMs: Int64) -> String {
        var parts: [String]
        switch r.phase {
        case .registering: parts = ["registering with \(r.managerURL)"] + (r.lastError.map { ["last error: \($0)"] } ?? [])
        case .connecting: parts = ["registered, connecting"]
        case .socket: parts = ["socket mode"]
        case .polling: parts = ["polling mode (stream unavailable)"]
        case .draining: parts = ["draining"]
        case .stopped: parts = ["stopped"]
        }
        if let id = r.delegateId { parts.append("delegate \(id)") }
        if r.phase != .registering { parts.append("\(r.running)/\(r.capacity) tasks") }
        if let ack = r.lastHeartbeatAckAtMs, r.phase != .registering { parts.append("heartbeat \(max(0, nowMs - ack) / 1000) s ago") }
        return parts.joined(separator: ", ")
    }
}
