import Foundation
import LegateCore
import Synchronization

/// The command `--watch` runs: spawned with posix_spawn in its own process group (so a restart or
/// a forwarded signal reaches a wrapper script's children too), signalled by group, reaped by pid.
///
/// Signal forwarding runs concurrently with the supervisor's loop, so the pid and the stopping
/// flag live behind one lock: once stopping, no new child is started.
public final class SupervisedCommand: Sendable {
    struct State {
        var pid: pid_t?
        var stopping = false
        var stopSignalAt: ContinuousClock.Instant?
    }

    let argv: [String]
    let state = Mutex(State())

    public init(argv: [String]) {
        self.argv = argv
    }

    /// Starts the command with `environment`, unless a stop was requested.
    func start(environment: [String: String]) throws(LoaderError) -> pid_t? {
        try state.withLock { s throws(LoaderError) -> pid_t? in
            guard !s.stopping else { return nil }
            do {
                let pid = try ProcessSpawner.spawn(argv: argv, environment: environment, stdout: 1, stderr: 2, newProcessGroup: true, searchPath: true)
                s.pid = pid
                return pid
            } catch {
                throw LoaderError(.command, code: "loader_command", "Cannot start the command '\(argv.first ?? "")': \((error as? ProcessSpawner.Failure)?.message ?? "\(error)") Check the command after -- and PATH.")
            }
        }
    }

    /// The running child's pid.
    var pid: pid_t? { state.withLock { $0.pid } }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Passes a signal the loader received on to the command; SIGTERM/SIGINT/SIGQUIT also mean
    /// "stop": the loader then only waits for the command to exit.
    public func forward(_ signal: Int32) {
        state.withLock { s in
            if signal == SIGTERM || signal == SIGINT || signal == SIGQUIT {
                s.stopping = true
                if s.stopSignalAt == nil { s.stopSignalAt = .now }
            }
            if let pid = s.pid { Self.signalGroup(pid, signal) }
        }
    }

    /// Sends `signal` to the command (the reload signal of `--on-change signal:…`).
    func send(_ signal: Int32) {
        state.withLock { s in
            if let pid = s.pid { Self.signalGroup(pid, signal) }
        }
    }

    /// When stopping began, for the stop timeout.
    var stopRequestedAt: ContinuousClock.Instant? { state.withLock { $0.stopSignalAt } }

    static func signalGroup(_ pid: pid_t, _ signal: Int32) {
        // The group first; if the child already left it (setsid), the child itself.
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }

    /// The exit status (128 + signal when killed) once the command has exited; nil while it runs.
    func reap() -> Int32? {
        state.withLock { s in
            guard let pid = s.pid else { return nil }
            guard let status = ProcessSpawner.exitStatus(of: pid) else { return nil }
            s.pid = nil
            return status
        }
    }

    /// Stops the command for a restart: SIGTERM to its group, SIGKILL after `timeout`.
    /// Returns its exit status.
    func stop(timeout: Duration, pause: (Duration) async -> Void) async -> Int32? {
        guard let pid else { return nil }
        Self.signalGroup(pid, SIGTERM)
        let clock = ContinuousClock()
        let start = clock.now
        var killed = false
        while true {
            if let status = reap() { return status }
            if !killed, clock.now - start > timeout {
                Self.signalGroup(pid, SIGKILL)
                killed = true
            }
            // A child stuck in uninterruptible sleep survives SIGKILL for a while: give up waiting
            // rather than hang the supervisor.
            if clock.now - start > timeout + .seconds(5) { return nil }
            await pause(.milliseconds(20))
        }
    }

    /// SIGKILL to the group (the stop timeout passed).
    func killGroup() {
        state.withLock { s in
            if let pid = s.pid { Self.signalGroup(pid, SIGKILL) }
        }
    }
}
