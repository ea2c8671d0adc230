import Foundation
import LegateAgent
import LegateCore
import LegateManager
import LegateWire
import XCTest

/// Network faults, manager restarts, killed and stopped agents — over real TLS sockets.
private let interval = Duration.seconds(1)

final class ResilienceTests: XCTestCase {

    func testAgentsFallBackToPollingWhenStreamsAreRefusedAndReturnWhenTheyHeal() async throws {
        try await withManager(settings: Harness.fastSettings(heartbeat: interval)) { m in
            try await withAgents(m, [AgentSpec(name: "a"), AgentSpec(name: "b")]) { agents in
                try await Harness.eventually("agents on the socket") { agents.allSatisfy { $0.status.mode == .socket } }
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }

                try await admin.setStreams(.refuse)
                let fallback = try await Harness.eventually("agents polling", timeout: .seconds(10)) {
                    agents.allSatisfy { $0.status.mode == .polling }
                }
                XCTAssertLessThanOrEqual(fallback, interval * 2, "fallback took \(fallback)")

                var ids: [String] = []
                for i in 0..<20 { ids.append(try await admin.createTask("echo polled \(i)").id) }
                let views = try await admin.waitFinal(ids, timeout: .seconds(30))
                XCTAssertTrue(views.allSatisfy { $0.status == .succeeded })
                // Still polling: the refused socket did not come back meanwhile.
                XCTAssertTrue(agents.allSatisfy { $0.status.mode == .polling })

                try await admin.setStreams(.open)
                let back = try await Harness.eventually("agents back on the socket", timeout: .seconds(10)) {
                    agents.allSatisfy { $0.status.mode == .socket }
                }
                XCTAssertLessThanOrEqual(back, interval * 2, "return to socket took \(back)")
                XCTAssertTrue(agents.allSatisfy { $0.status.fallbacksToPolling >= 1 && $0.status.returnsToSocket >= 1 })

                let after = try await admin.createTask("echo socket again")
                let done = try await admin.waitFinal([after.id])
                XCTAssertEqual(done.first?.status, .succeeded)
            }
        }
    }

    func testSilentSocketIsDetectedAndTasksKeepFlowing() async throws {
        try await withManager(settings: Harness.fastSettings(heartbeat: interval)) { m in
            try await withAgents(m, [AgentSpec(name: "quiet")]) { agents in
                try await Harness.eventually("agent on the socket") { agents[0].status.mode == .socket }
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }

                try await admin.setStreams(.silent)
                // Two unanswered heartbeats, plus up to one interval until the next is due.
                let detected = try await Harness.eventually("silence detected", timeout: .seconds(10)) {
                    agents[0].status.mode == .polling
                }
                XCTAssertLessThanOrEqual(detected, interval * 3 + .milliseconds(500), "detection took \(detected)")

                // The socket reconnects but stays on probation (silent): work flows by polling.
                let t = try await admin.createTask("echo through the silence")
                let views = try await admin.waitFinal([t.id], timeout: .seconds(15))
                XCTAssertEqual(views.first?.status, .succeeded)
                XCTAssertEqual(agents[0].status.mode, .polling)

                try await admin.setStreams(.open)
                try await Harness.eventually("back on the socket", timeout: .seconds(10)) { agents[0].status.mode == .socket }
            }
        }
    }

    func testManagerKilledAndRestartedMidRunLosesNothingAndRunsNothingTwice() async throws {
        let state = Harness.tempDir("legate-restart")
        let runs = Harness.tempDir("legate-restart-runs")
        let portFile = state + "/port"
        func startManager(port: Int) throws -> ChildProcess {
            try? FileManager.default.removeItem(atPath: portFile)
            return try ChildProcess(
                "legate-manager",
                ["serve", "--state-dir", state, "--port", "\(port)", "--heartbeat-interval", "1", "--port-file", portFile, "--log-level", "debug"],
                logPath: state + "/manager-\(port).log")
        }
        var manager = try startManager(port: 0)
        let port = try await readPort(portFile)
        let url = "https://localhost:\(port)"
        let admin = try AdminAPI(url: url, stateDirectory: state)
        defer { Task { await admin.shutdown() } }
        let token: CreatedToken = try await admin.call(.POST, "/tokens", CreateTokenRequest(name: "restart"))
        try FileIO.write(token.token, to: state + "/agent.token", mode: 0o600)

        let agents = try (0..<2).map { i in
            try ChildProcess(
                "legate",
                ["run", "--manager-url", url, "--token-file", state + "/agent.token", "--ca-file", state + "/tls/ca.pem",
                 "--name", "r\(i)", "--capacity", "4", "--log-level", "debug"],
                logPath: state + "/agent-\(i).log")
        }
        defer { for a in agents { a.signal(SIGKILL) } }
        try await Harness.eventually("agents registered") { try await admin.delegates().filter { $0.mode == .socket }.count == 2 }

        var ids: [String] = []
        let script = #"sleep 0.4; echo "$LEGATE_TASK_ID" >> "$RUNS/$LEGATE_TASK_ID"; echo done"#
        for _ in 0..<24 { ids.append(try await admin.createTask(script, env: ["RUNS": runs]).id) }
        try await Harness.eventually("tasks running") { try await admin.tasks().contains { $0.status == .running } }

        manager.signal(SIGKILL)
        _ = await manager.wait()
        try await Task.sleep(for: .milliseconds(1500))
        manager = try startManager(port: port)
        defer { manager.signal(SIGTERM) }
        _ = try await readPort(portFile)

        let views = try await admin.waitFinal(ids, timeout: .seconds(60))
        for v in views {
            XCTAssertEqual(v.status, .succeeded, "\(v.id): \(v.result?.message ?? "")")
            XCTAssertEqual(v.attempt, 1)
            let ran = (try? String(contentsOfFile: runs + "/" + v.id, encoding: .utf8)) ?? ""
            XCTAssertEqual(ran.split(separator: "\n").count, 1, "task \(v.id) ran \(ran.split(separator: "\n").count) times")
            let logs = try await admin.logs(v.id)
            XCTAssertEqual(logs.map(\.data).joined(), "done\n", "logs of \(v.id)")
        }
        try await Harness.eventually("agents back on the socket", timeout: .seconds(15)) {
            try await admin.delegates().filter { $0.mode == .socket && $0.status == .active }.count == 2
        }
    }

    func testKilledAgentIsDeclaredLostWithinThreeIntervalsAndItsRetryableTaskRerunsElsewhere() async throws {
        let dir = Harness.tempDir("legate-kill")
        try await withManager(settings: Harness.fastSettings(heartbeat: interval)) { m in
            let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await admin.shutdown() } }
            let (_, tokenFile) = try await m.tokenFile("victim")
            let victim = try ChildProcess(
                "legate",
                ["run", "--manager-url", m.url, "--token-file", tokenFile, "--ca-file", m.caFile, "--name", "victim",
                 "--tags", "pool", "--capacity", "1"],
                logPath: dir + "/victim.log")
            defer { victim.signal(SIGKILL) }
            try await Harness.eventually("victim connected") { try await admin.delegates().contains { $0.name == "victim" && $0.mode == .socket } }

            // The first attempt hangs (and records its process group), the second finishes.
            let script = #"if [ "$LEGATE_TASK_ATTEMPT" = 1 ]; then echo $$ > "$DIR/pgid"; sleep 60; fi; echo "attempt $LEGATE_TASK_ATTEMPT""#
            let task = try await admin.createTask(script, selectors: ["pool"], maxAttempts: 2, env: ["DIR": dir])
            try await Harness.eventually("running on the victim") { try await admin.task(task.id).status == .running }

            try await withAgents(m, [AgentSpec(name: "survivor", tags: ["pool"])]) { agents in
                try await Harness.eventually("survivor connected") { agents[0].status.mode == .socket }
                victim.signal(SIGKILL)
                _ = await victim.wait()
                if let pg = Int32((try? String(contentsOfFile: dir + "/pgid", encoding: .utf8))?.trimmingWhitespace() ?? "") {
                    kill(-pg, SIGKILL)  // the orphaned first attempt
                }
                let lost = try await Harness.eventually("victim declared lost", timeout: .seconds(10)) {
                    try await admin.delegates().contains { $0.name == "victim" && $0.status == .lost }
                }
                // Lost 3 intervals after its last heartbeat (which preceded the kill), found by a
                // reaper pass every half interval; the slack covers scheduling on a loaded machine.
                XCTAssertLessThanOrEqual(lost, interval * 3 + interval / 2 + .milliseconds(500), "detection took \(lost)")

                let final = try await admin.waitFinal([task.id], timeout: .seconds(20))
                let v = try XCTUnwrap(final.first)
                XCTAssertEqual(v.status, .succeeded)
                XCTAssertEqual(v.attempt, 2)
                XCTAssertEqual(v.delegateHistory.count, 2)
                let names = Dictionary(uniqueKeysWithValues: try await admin.delegates().map { ($0.id, $0.name) })
                XCTAssertEqual(v.delegateHistory.map { names[$0] }, ["victim", "survivor"])
                let logs = try await admin.logs(task.id)
                XCTAssertEqual(logs.filter { $0.attempt == 2 }.map(\.data).joined(), "attempt 2\n")
            }
        }
    }

    func testSIGTERMLetsRunningTasksFinishAndReportThenExitsZero() async throws {
        let dir = Harness.tempDir("legate-term")
        try await withManager(settings: Harness.fastSettings(heartbeat: interval)) { m in
            let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await admin.shutdown() } }
            let (_, tokenFile) = try await m.tokenFile("term")
            let agent = try ChildProcess(
                "legate",
                ["run", "--manager-url", m.url, "--token-file", tokenFile, "--ca-file", m.caFile, "--name", "term",
                 "--capacity", "3", "--drain-grace-seconds", "30"],
                logPath: dir + "/agent.log")
            defer { agent.signal(SIGKILL) }
            try await Harness.eventually("agent connected") { try await admin.delegates().contains { $0.name == "term" && $0.mode == .socket } }
            var ids: [String] = []
            for i in 0..<3 { ids.append(try await admin.createTask("echo begin \(i); sleep 1.5; echo end \(i)").id) }
            try await Harness.eventually("all three running") {
                try await admin.tasks().filter { ids.contains($0.id) && $0.status == .running }.count == 3
            }
            // A task queued after SIGTERM must not be taken by the draining agent.
            agent.signal(SIGTERM)
            try await Task.sleep(for: .milliseconds(200))
            let late = try await admin.createTask("echo too late")

            let status = await agent.wait(timeout: .seconds(20))
            XCTAssertEqual(status, 0, agent.output)
            for v in try await admin.waitFinal(ids, timeout: .seconds(5)) {
                XCTAssertEqual(v.status, .succeeded)
                let text = try await admin.logs(v.id).map(\.data).joined()
                XCTAssertTrue(text.hasPrefix("begin") && text.contains("end"), text)
            }
            let lateStatus = try await admin.task(late.id).status
            XCTAssertEqual(lateStatus, .queued)
            XCTAssertTrue(agent.output.contains("draining"), agent.output)
        }
    }

    func testRevokedTokenDrainsTheAgentAndExitsNonZeroSayingSo() async throws {
        let dir = Harness.tempDir("legate-revoke")
        try await withManager(settings: Harness.fastSettings(heartbeat: interval)) { m in
            let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await admin.shutdown() } }
            let (token, tokenFile) = try await m.tokenFile("doomed")
            let agent = try ChildProcess(
                "legate",
                ["run", "--manager-url", m.url, "--token-file", tokenFile, "--ca-file", m.caFile, "--name", "doomed"],
                logPath: dir + "/agent.log")
            defer { agent.signal(SIGKILL) }
            try await Harness.eventually("agent connected") { try await admin.delegates().contains { $0.name == "doomed" && $0.mode == .socket } }
            let running = try await admin.createTask("sleep 1; echo finished anyway")
            try await Harness.eventually("task running") { try await admin.task(running.id).status == .running }

            try await admin.revoke(token.id)
            let status = await agent.wait(timeout: .seconds(20))
            XCTAssertEqual(status, 3, agent.output)
            XCTAssertTrue(agent.output.contains("revoked"), agent.output)
            XCTAssertTrue(agent.output.contains("legate-manager token create"), agent.output)

            // A revoked token cannot register again.
            let again = try ChildProcess(
                "legate",
                ["run", "--manager-url", m.url, "--token-file", tokenFile, "--ca-file", m.caFile, "--name", "doomed"],
                logPath: dir + "/again.log")
            let againStatus = await again.wait(timeout: .seconds(20))
            XCTAssertEqual(againStatus, 3, again.output)
            XCTAssertTrue(again.output.contains("revoked"), again.output)
        }
    }

    private func readPort(_ path: String) async throws -> Int {
        var port = 0
        try await Harness.eventually("manager port file", timeout: .seconds(20)) {
            port = Int((try? String(contentsOfFile: path, encoding: .utf8))?.trimmingWhitespace() ?? "") ?? 0
            return port > 0
        }
        return port
    }
}
