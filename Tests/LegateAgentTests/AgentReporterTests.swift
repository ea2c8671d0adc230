import Foundation
import Logging
import Synchronization
import XCTest

@testable import LegateAgent

/// The reporter turns status changes and loop pulses into sd_notify messages and the status file.
final class AgentReporterTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "legate-reporter-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    private func drain(_ sock: NotifySocket) -> [String] {
        var out: [String] = []
        while let m = sock.receive(timeoutMs: 50) { out.append(m) }
        return out
    }

    func testLifecycleMessagesAndStatusFile() throws {
        let sock = try NotifySocket(abstract: true)
        let wall = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let reporter = AgentReporter(
            notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "1000000"], pid: 7),
            statusFile: StatusReport.path(stateDirectory: dir), managerURL: "https://m.example:8443", capacity: 4,
            logger: Logger(label: "test"), wallClock: { wall.withLock { $0 } }, pid: 7)
        let t0 = ContinuousClock.now

        reporter.starting()
        XCTAssertEqual(drain(sock), ["STATUS=Registering with https://m.example:8443"])
        var report = try XCTUnwrap(try StatusReport.read(stateDirectory: dir))
        XCTAssertEqual(report.phase, .registering)
        XCTAssertEqual(report.pid, 7)

        // No watchdog before READY=1: systemd arms it only then, and an early ping would arm it sooner.
        reporter.pulse(now: t0)
        var s = AgentStatus()
        s.registrationAttempts = 1
        s.lastRegistrationError = "connection refused"
        reporter.statusChanged(s)
        XCTAssertEqual(drain(sock), ["STATUS=Registering with https://m.example:8443 (attempt 1 failed: connection refused)"])
        XCTAssertEqual(try StatusReport.read(stateDirectory: dir)?.lastError, "connection refused")

        s.registered = true
        s.delegateId = "d_1"
        s.lastRegistrationError = nil
        s.lastHeartbeatAck = wall.withLock { $0 }
        reporter.statusChanged(s)
        XCTAssertEqual(drain(sock), ["READY=1\nSTATUS=Registered with https://m.example:8443 as d_1; connecting"])

        s.mode = .socket
        reporter.statusChanged(s)
        s.mode = .polling
        reporter.statusChanged(s)
        XCTAssertEqual(
            drain(sock),
            [
                "STATUS=Socket mode: notices over the WebSocket stream from https://m.example:8443 as d_1",
                "STATUS=Polling mode: stream unavailable, polling https://m.example:8443 over HTTPS as d_1",
            ])
        report = try XCTUnwrap(try StatusReport.read(stateDirectory: dir))
        XCTAssertEqual(report.phase, .polling)
        XCTAssertEqual(report.delegateId, "d_1")
        XCTAssertNil(report.lastError)

        // Watchdog: every 500 ms (half of WATCHDOG_USEC) of loop ticks.
        var pings = 0
        for tick in 1...20 {
            reporter.pulse(now: t0 + .milliseconds(100 * tick))
            pings += drain(sock).filter { $0 == "WATCHDOG=1" }.count
        }
        XCTAssertEqual(pings, 4, "ticks 100…2000 ms at 500 ms spacing")

        // A task count change is not a phase change: no STATUS, the file catches up on a later pulse.
        s.running = 2
        reporter.statusChanged(s)
        XCTAssertEqual(drain(sock), [])
        XCTAssertEqual(try StatusReport.read(stateDirectory: dir)?.running, 0)
        wall.withLock { $0 += 3 }
        reporter.pulse(now: t0 + .seconds(3))
        XCTAssertEqual(drain(sock), ["WATCHDOG=1"])
        report = try XCTUnwrap(try StatusReport.read(stateDirectory: dir))
        XCTAssertEqual(report.running, 2)
        XCTAssertEqual(report.updatedAtMs, 1_800_000_003_000)

        s.draining = true
        reporter.statusChanged(s)
        XCTAssertEqual(drain(sock), ["STOPPING=1\nSTATUS=Draining: 2 running task(s) finishing; no new tasks"])

        reporter.stopped(reason: "drained")
        report = try XCTUnwrap(try StatusReport.read(stateDirectory: dir))
        XCTAssertEqual(report.phase, .stopped)
        XCTAssertEqual(report.exitReason, "drained")
    }

    func testStatusFileRefreshesEveryFiveSecondsOfTicksOnly() throws {
        let wall = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let reporter = AgentReporter(
            notifier: SystemdNotifier(environment: [:]), statusFile: StatusReport.path(stateDirectory: dir), managerURL: "https://m",
            capacity: 1, logger: Logger(label: "test"), wallClock: { wall.withLock { $0 } })
        var s = AgentStatus()
        s.registered = true
        s.mode = .socket
        reporter.statusChanged(s)
        let t0 = ContinuousClock.now
        reporter.pulse(now: t0)
        let first = try XCTUnwrap(try StatusReport.read(stateDirectory: dir)).updatedAtMs
        wall.withLock { $0 += 4 }
        reporter.pulse(now: t0 + .seconds(4))
        XCTAssertEqual(try StatusReport.read(stateDirectory: dir)?.updatedAtMs, first, "unchanged status, < 5 s: no rewrite")
        wall.withLock { $0 += 1 }
        reporter.pulse(now: t0 + .seconds(5))
        XCTAssertEqual(try StatusReport.read(stateDirectory: dir)?.updatedAtMs, first + 5000)
        // With the loop stuck (no pulses), nothing refreshes the file: `legate health` sees it age.
    }

    func testMonitorFeedsTheReporter() throws {
        let sock = try NotifySocket(abstract: false)
        let reporter = AgentReporter(
            notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": sock.address]), statusFile: nil, managerURL: "https://m",
            capacity: 1, logger: Logger(label: "test"))
        let seen = Mutex(0)
        let monitor = reporter.makeMonitor { _ in seen.withLock { $0 += 1 } }
        monitor.update { $0.registered = true }
        XCTAssertEqual(sock.receive(), "READY=1\nSTATUS=Registered with https://m; connecting")
        XCTAssertEqual(seen.withLock { $0 }, 1, "the extra observer still sees changes")
    }
}
