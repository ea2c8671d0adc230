import Foundation
import LegateCore
import XCTest

@testable import LegateAgent

final class HealthAndMetricsTests: XCTestCase {
    private let now = Date(timeIntervalSince1970: 1_800_000_100)

    private func report(_ phase: StatusReport.Phase, updatedSecondsAgo: Double = 1) -> StatusReport {
        StatusReport(
            pid: 4242, phase: phase, startedAtMs: 1_800_000_000_000,
            updatedAtMs: Int64((now.timeIntervalSince1970 - updatedSecondsAgo) * 1000), managerURL: "https://m.example:8443",
            delegateId: "d_1", running: 1, capacity: 8, lastHeartbeatAckAtMs: 1_800_000_097_000, lastError: phase == .registering ? "refused" : nil)
    }

    private func judge(_ r: StatusReport?, liveness: Bool = false, alive: Bool = true) -> HealthVerdict {
        HealthVerdict.evaluate(r, now: now, maxAge: .seconds(60), liveness: liveness, processAlive: { _ in alive })
    }

    func testReadinessNeedsAConnectedAgent() {
        XCTAssertEqual(judge(report(.socket)), HealthVerdict(healthy: true, summary: "ready: socket mode, delegate d_1, 1/8 tasks, heartbeat 3 s ago"))
        XCTAssertTrue(judge(report(.polling)).healthy)
        XCTAssertTrue(judge(report(.polling)).summary.contains("polling mode"))
        for phase in [StatusReport.Phase.registering, .connecting, .draining] {
            XCTAssertFalse(judge(report(phase)).healthy, "\(phase)")
        }
        XCTAssertTrue(judge(report(.registering)).summary.contains("last error: refused"))
    }

    func testLivenessOnlyNeedsARunningLoop() {
        for phase in [StatusReport.Phase.registering, .connecting, .socket, .polling, .draining] {
            XCTAssertTrue(judge(report(phase), liveness: true).healthy, "\(phase)")
        }
    }

    func testStaleDeadStoppedAndMissing() {
        let stale = judge(report(.socket, updatedSecondsAgo: 61), liveness: true)
        XCTAssertFalse(stale.healthy)
        XCTAssertTrue(stale.summary.hasPrefix("stuck: status not updated for 61 s (limit 60 s)"), stale.summary)
        let dead = judge(report(.socket), liveness: true, alive: false)
        XCTAssertFalse(dead.healthy)
        XCTAssertTrue(dead.summary.contains("process 4242 is gone"), dead.summary)
        var stopped = report(.stopped)
        stopped.exitReason = "token revoked"
        XCTAssertEqual(judge(stopped, liveness: true), HealthVerdict(healthy: false, summary: "stopped: token revoked"))
        XCTAssertFalse(judge(nil, liveness: true).healthy)
    }

    func testStatusFileRoundTripAndErrors() throws {
        let dir = NSTemporaryDirectory() + "legate-health-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertNil(try StatusReport.read(stateDirectory: dir))
        let r = report(.socket)
        try FileIO.write(try r.encoded(), to: StatusReport.path(stateDirectory: dir), mode: 0o600, sync: false)
        XCTAssertEqual(try StatusReport.read(stateDirectory: dir), r)
        try FileIO.write("not json", to: StatusReport.path(stateDirectory: dir), mode: 0o600)
        XCTAssertThrowsError(try StatusReport.read(stateDirectory: dir)) { e in
            XCTAssertEqual((e as? HealthError)?.code, "status_invalid")
        }
    }

    func testPhaseOfStatus() {
        var s = AgentStatus()
        XCTAssertEqual(StatusReport.phase(of: s), .registering)
        s.registered = true
        XCTAssertEqual(StatusReport.phase(of: s), .connecting)
        s.mode = .socket
        XCTAssertEqual(StatusReport.phase(of: s), .socket)
        s.mode = .polling
        XCTAssertEqual(StatusReport.phase(of: s), .polling)
        s.draining = true
        XCTAssertEqual(StatusReport.phase(of: s), .draining)
    }

    // MARK: Metrics

    func testMetricsAddressIsLoopbackOnly() throws {
        XCTAssertEqual(try MetricsAddress("127.0.0.1:9464"), try MetricsAddress("9464"))
        XCTAssertEqual(try MetricsAddress("[::1]:9464").description, "[::1]:9464")
        XCTAssertEqual(try MetricsAddress("localhost:0").port, 0)
        XCTAssertEqual(try MetricsAddress("127.0.0.2:1").host, "127.0.0.2")
        for bad in ["0.0.0.0:9464", "10.0.0.5:9464", "[::]:9464", "metrics.example.com:9464", "127.example.com:1"] {
            XCTAssertThrowsError(try MetricsAddress(bad), bad) { e in
                XCTAssertEqual((e as? ConfigurationError)?.code, "insecure_metrics_address", bad)
            }
        }
        for bad in ["", "127.0.0.1:", "127.0.0.1:70000", "::1:9464", "[::1]9464", "abc"] {
            XCTAssertThrowsError(try MetricsAddress(bad), bad) { e in
                XCTAssertEqual((e as? ConfigurationError)?.code, "invalid_configuration", bad)
            }
        }
    }

    func testMetricsListenFromEachSource() throws {
        var c = AgentConfiguration()
        c.managerURL = "https://m.example.com"
        c.token = Redacted("t")
        XCTAssertNil(try c.validated().metrics, "off by default")
        let file = NSTemporaryDirectory() + "legate-metrics-\(UUID().uuidString.prefix(8)).yaml"
        try FileIO.write("metrics_listen: 127.0.0.1:9464\n", to: file, mode: 0o600)
        defer { unlink(file) }
        try c.apply(yamlFile: file)
        XCTAssertEqual(try c.validated().metrics, try MetricsAddress("127.0.0.1:9464"))
        try c.apply(environment: ["LEGATE_METRICS_LISTEN": ""])
        XCTAssertNil(try c.validated().metrics, "an empty variable turns the file's setting off")
        try c.apply(environment: ["LEGATE_METRICS_LISTEN": "0.0.0.0:9464"])
        XCTAssertThrowsError(try c.validated())
        XCTAssertTrue(AgentConfiguration.fileKeys.contains("metrics_listen"))
    }

    func testMetricsRenderFromStatus() {
        let monitor = AgentMonitor()
        let metrics = AgentMetrics(
            monitor: monitor, capacity: 8, version: "0.1.0", revision: "abc123",
            wallClock: { Date(timeIntervalSince1970: 1_800_000_010) })
        var text = String(decoding: metrics.render(), as: UTF8.self)
        XCTAssertTrue(text.contains(#"legate_build_info{version="0.1.0",revision="abc123"} 1"#), text)
        XCTAssertTrue(text.contains("legate_heartbeat_age_seconds -1"), text)
        XCTAssertTrue(text.contains("legate_tasks_capacity 8"), text)

        monitor.update {
            $0.registered = true
            $0.mode = .polling
            $0.running = 3
            $0.tasksCompleted = 5
            $0.registrations = 1
            $0.fallbacksToPolling = 2
            $0.lastHeartbeatAck = Date(timeIntervalSince1970: 1_800_000_004)
            $0.providerErrors = ["external": 2]
        }
        text = String(decoding: metrics.render(), as: UTF8.self)
        for line in [
            "legate_registered 1", #"legate_connection_mode{mode="polling"} 1"#, #"legate_connection_mode{mode="socket"} 0"#,
            "legate_tasks_running 3", "legate_tasks_completed_total 5", "legate_stream_fallbacks_total 2",
            "legate_heartbeat_age_seconds 6", #"legate_provider_errors_total{origin="external"} 2"#,
            #"legate_provider_errors_total{origin="configuration"} 0"#,
        ] {
            XCTAssertTrue(text.contains(line + "\n") || text.contains(line + ".0\n"), "missing \(line) in\n\(text)")
        }
        // Counters keep their totals across scrapes.
        monitor.update { $0.tasksCompleted = 7 }
        text = String(decoding: metrics.render(), as: UTF8.self)
        XCTAssertTrue(text.contains("legate_tasks_completed_total 7\n"), text)
    }
}
