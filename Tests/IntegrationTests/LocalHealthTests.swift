import AsyncHTTPClient
import Foundation
import LegateAgent
import LegateCore
import XCTest

/// `legate health`, the status file and the loopback Prometheus endpoint, following a real agent
/// process through socket mode, polling and shutdown.
final class LocalHealthTests: XCTestCase {

    func testHealthAndMetricsFollowTheAgent() async throws {
        let dir = Harness.tempDir("legate-health")
        let state = dir + "/state"
        try await withManager(settings: Harness.fastSettings(heartbeat: .seconds(1))) { m in
            let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await admin.shutdown() } }
            let (_, tokenFile) = try await m.tokenFile("health")

            let before = try await Command.legate(["health", "--state-dir", state])
            XCTAssertEqual(before.status, 1, before.output)
            XCTAssertTrue(before.output.contains("no status file"), before.output)

            let agent = try ChildProcess(
                "legate",
                ["run", "--manager-url", m.url, "--token-file", tokenFile, "--ca-file", m.caFile, "--name", "healthy",
                 "--state-dir", state, "--drain-grace-seconds", "5"],
                env: ["LEGATE_METRICS_LISTEN": "127.0.0.1:0"],
                logPath: dir + "/agent.log")
            defer { agent.signal(SIGKILL) }
            try await Harness.eventually("agent on the socket") { try await admin.delegates().contains { $0.name == "healthy" && $0.mode == .socket } }
            var report: StatusReport?
            try await Harness.eventually("status file in socket mode") {
                report = try? StatusReport.read(stateDirectory: state)
                return report?.phase == .socket && report?.metricsAddress != nil
            }
            XCTAssertEqual(report?.pid, agent.pid)

            let ready = try await Command.legate(["health", "--state-dir", state])
            XCTAssertEqual(ready.status, 0, ready.output)
            XCTAssertTrue(ready.output.hasPrefix("healthy: ready: socket mode, delegate d_"), ready.output)
            // The state directory can also come from the environment, as in a container.
            let fromEnv = try await Command.legate(["health", "--liveness"], env: ["LEGATE_STATE_DIR": state])
            XCTAssertEqual(fromEnv.status, 0, fromEnv.output)
            XCTAssertTrue(fromEnv.output.hasPrefix("healthy: alive:"), fromEnv.output)

            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            defer { Task { try? await http.shutdown() } }
            let metricsURL = "http://\(report?.metricsAddress ?? "")/metrics"
            func scrape() async throws -> String {
                let resp = try await http.execute(HTTPClientRequest(url: metricsURL), timeout: .seconds(5))
                XCTAssertEqual(resp.status.code, 200)
                return String(buffer: try await resp.body.collect(upTo: 1 << 20))
            }
            var text = try await scrape()
            XCTAssertTrue(text.contains(#"legate_connection_mode{mode="socket"} 1"#), text)
            XCTAssertTrue(text.contains("legate_registered 1"), text)
            XCTAssertTrue(text.contains("legate_build_info{"), text)
            let notFound = try await http.execute(HTTPClientRequest(url: "http://\(report?.metricsAddress ?? "")/"), timeout: .seconds(5))
            XCTAssertEqual(notFound.status.code, 404)

            try await admin.setStreams(.refuse)
            try await Harness.eventually("status file in polling mode", timeout: .seconds(10)) {
                (try? StatusReport.read(stateDirectory: state))?.phase == .polling
            }
            let polling = try await Command.legate(["health", "--state-dir", state])
            XCTAssertEqual(polling.status, 0, polling.output)
            XCTAssertTrue(polling.output.contains("polling mode"), polling.output)
            text = try await scrape()
            XCTAssertTrue(text.contains(#"legate_connection_mode{mode="polling"} 1"#), text)
            XCTAssertTrue(text.contains("legate_stream_fallbacks_total 1"), text)

            agent.signal(SIGTERM)
            let exit = await agent.wait(timeout: .seconds(15))
            XCTAssertEqual(exit, 0, agent.output)
            let after = try await Command.legate(["health", "--state-dir", state, "--liveness"])
            XCTAssertEqual(after.status, 1, after.output)
            XCTAssertTrue(after.output.contains("stopped: the agent stopped normally"), after.output)
        }
    }

    func testAStaleStatusFileMeansStuck() async throws {
        let state = Harness.tempDir("legate-stale")
        // Our own pid: alive, but the file was last written two minutes ago.
        let old = Int64((Date().timeIntervalSince1970 - 120) * 1000)
        let r = StatusReport(
            pid: getpid(), phase: .socket, startedAtMs: old, updatedAtMs: old, managerURL: "https://m.example", capacity: 1)
        try FileIO.write(try r.encoded(), to: StatusReport.path(stateDirectory: state), mode: 0o600)
        let stuck = try await Command.legate(["health", "--state-dir", state, "--liveness"])
        XCTAssertEqual(stuck.status, 1, stuck.output)
        XCTAssertTrue(stuck.output.contains("stuck: status not updated for 12"), stuck.output)
        let lenient = try await Command.legate(["health", "--state-dir", state, "--liveness", "--max-age", "600"])
        XCTAssertEqual(lenient.status, 0, lenient.output)
    }
}
