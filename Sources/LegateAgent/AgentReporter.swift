import Foundation
import LegateCore
import Logging
import Synchronization

/// Publishes the agent's state outside the process: systemd notifications (`READY=1` after the
/// first registration, `STATUS=` on every phase change, `STOPPING=1` when draining starts,
/// `WATCHDOG=1` pings) and the status file that `legate health` reads.
///
/// It is fed by ``AgentMonitor``: status changes, and the event loop's pulse. Watchdog pings and the
/// periodic status-file refresh happen only on a pulse, so a stuck loop stops both — systemd then
/// restarts the agent and `legate health` reports it stuck.
public final class AgentReporter: Sendable {
    /// How often the status file is rewritten while nothing changes (its freshness).
    public static let refreshInterval: Duration = .seconds(5)
    /// Minimum spacing of rewrites for minor changes (task counts), so a busy agent does not write
    /// the file hundreds of times a second.
    public static let minimumWriteSpacing: Duration = .seconds(1)

    private struct State {
        var status = AgentStatus()
        var phase: StatusReport.Phase?
        var readySent = false
        var stoppingSent = false
        var watchdog: WatchdogPacer?
        var lastWrite: ContinuousClock.Instant?
        var dirty = false
        var metricsAddress: String?
        var warnedNotify = false
        var warnedWrite = false
    }

    let notifier: SystemdNotifier
    let statusFile: String?
    let managerURL: String
    let capacity: Int
    let logger: Logger
    let wallClock: @Sendable () -> Date
    let pid: Int32
    let startedAt: Date
    private let state = Mutex(State())

    /// - Parameters:
    ///   - statusFile: where to write the status file (nil: none).
    ///   - wallClock: the time written into the status file (injected for tests).
    public init(
        notifier: SystemdNotifier, statusFile: String?, managerURL: String, capacity: Int, logger: Logger,
        wallClock: @escaping @Sendable () -> Date = { Date() }, pid: Int32 = getpid()
    ) {
        self.notifier = notifier
        self.statusFile = statusFile
        self.managerURL = managerURL
        self.capacity = capacity
        self.logger = logger
        self.wallClock = wallClock
        self.pid = pid
        self.startedAt = wallClock()
        state.withLock { $0.watchdog = notifier.watchdogInterval.map(WatchdogPacer.init(interval:)) }
    }

    /// A monitor wired to this reporter, to hand to ``AgentService``.
    public func makeMonitor(also observer: (@Sendable (AgentStatus) -> Void)? = nil) -> AgentMonitor {
        AgentMonitor(
            observer: { [self] status in
                statusChanged(status)
                observer?(status)
            },
            pulse: { [self] now in pulse(now: now) })
    }

    /// Writes the first status file (`registering`) and tells systemd what the agent is doing.
    public func starting() {
        state.withLock { s in
            s.phase = .registering
            write(&s, now: nil)
            notify(.status("Registering with \(managerURL)"), &s)
        }
    }

    /// Records where metrics are served, for the status file.
    public func setMetricsAddress(_ address: String) {
        state.withLock {
            $0.metricsAddress = address
            $0.dirty = true
        }
    }

    /// Called on every status change.
    public func statusChanged(_ status: AgentStatus) {
        state.withLock { s in
            s.status = status
            let phase = StatusReport.phase(of: status)
            let phaseChanged = phase != s.phase
            s.phase = phase
            if status.registered, !s.readySent {
                s.readySent = true
                notify(.ready(status: statusLine(status, phase)), &s)
            } else if phase == .draining, !s.stoppingSent {
                s.stoppingSent = true
                notify(.stopping(status: statusLine(status, phase)), &s)
            } else if phaseChanged || (phase == .registering && status.lastRegistrationError != nil) {
                notify(.status(statusLine(status, phase)), &s)
            }
            // Registration attempts come without pulses (the loop is not running yet): write them now.
            if phaseChanged || !status.registered {
                write(&s, now: nil)
            } else {
                s.dirty = true
            }
        }
    }

    /// Called by the event loop on every tick: watchdog pings and status-file refreshes.
    public func pulse(now: ContinuousClock.Instant) {
        state.withLock { s in
            if s.readySent, s.watchdog?.isDue(now: now) == true {
                notify(.watchdog, &s)
            }
            let due: Bool
            if let last = s.lastWrite {
                let since = now - last
                due = since >= Self.refreshInterval || (s.dirty && since >= Self.minimumWriteSpacing)
            } else {
                due = true
            }
            if due { write(&s, now: now) }
        }
    }

    /// Final status file: the agent exited, with `reason`.
    public func stopped(reason: String) {
        state.withLock { s in
            s.phase = .stopped
            write(&s, now: nil, exitReason: reason)
        }
    }

    // MARK: Internals

    private func statusLine(_ s: AgentStatus, _ phase: StatusReport.Phase) -> String {
        let who = s.delegateId.map { " as \($0)" } ?? ""
        switch phase {
        case .registering:
            if let e = s.lastRegistrationError { return "Registering with \(managerURL) (attempt \(s.registrationAttempts) failed: \(e))" }
            return "Registering with \(managerURL)"
        case .connecting: return "Registered with \(managerURL)\(who); connecting"
        case .socket: return "Socket mode: notices over the WebSocket stream from \(managerURL)\(who)"
        case .polling: return "Polling mode: stream unavailable, polling \(managerURL) over HTTPS\(who)"
        case .draining: return "Draining: \(s.running) running task(s) finishing; no new tasks"
        case .stopped: return "Stopped"
        }
    }

    private func notify(_ message: SystemdNotifier.Message, _ s: inout State) {
        do {
            try notifier.send(message)
        } catch {
            // Once: a missing systemd socket would otherwise log on every watchdog tick.
            if !s.warnedNotify {
                s.warnedNotify = true
                logger.warning("cannot notify systemd", metadata: ["error": "\(error.message)"])
            }
        }
    }

    private func write(_ s: inout State, now: ContinuousClock.Instant?, exitReason: String? = nil) {
        s.dirty = false
        // Only pulses move the refresh clock; writes between pulses just add freshness.
        if let now { s.lastWrite = now }
        guard let statusFile else { return }
        let st = s.status
        let report = StatusReport(
            pid: pid, phase: s.phase ?? .registering, startedAtMs: Self.ms(startedAt), updatedAtMs: Self.ms(wallClock()),
            managerURL: managerURL, delegateId: st.delegateId, running: st.running, capacity: capacity,
            lastHeartbeatAckAtMs: st.lastHeartbeatAck.map(Self.ms), lastError: st.registered ? nil : st.lastRegistrationError,
            metricsAddress: s.metricsAddress, exitReason: exitReason)
        do {
            try FileIO.write(try report.encoded(), to: statusFile, mode: 0o600, sync: false)
            s.warnedWrite = false
        } catch {
            if !s.warnedWrite {
                s.warnedWrite = true
                logger.warning("cannot write the status file; `legate health` will report the agent stuck", metadata: ["error": "\(error)"])
            }
        }
    }

    static func ms(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
}
