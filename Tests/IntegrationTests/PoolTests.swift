import Foundation
import LegateAgent
import LegateCore
import LegateManager
import LegateWire
import XCTest

/// A pool of three agents over real TLS loopback sockets: routing by tags, exactly-once execution.
final class PoolTests: XCTestCase {
    func testThreeAgentsRunThreeHundredTasksExactlyOnceAndRouteBySelectors() async throws {
        let runs = Harness.tempDir("legate-runs")
        let taskCount = Int(ProcessInfo.processInfo.environment["LEGATE_POOL_TASKS"] ?? "") ?? 300
        try await withManager { m in
            let specs = [
                AgentSpec(name: "east-1", tags: ["linux", "east"]),
                AgentSpec(name: "west-1", tags: ["linux", "west"]),
                AgentSpec(name: "east-gpu", tags: ["linux", "east", "gpu"]),
            ]
            try await withAgents(m, specs) { agents in
                try await Harness.eventually("agents on the socket") { agents.allSatisfy { $0.status.mode == .socket } }
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                let names = Dictionary(uniqueKeysWithValues: try await admin.delegates().map { ($0.id, $0.name) })

                // Each run appends its task id to a file named after the task: a second run shows up.
                let script = #"echo "run $LEGATE_TASK_ID"; echo "$LEGATE_TASK_ID" >> "$RUNS/$LEGATE_TASK_ID""#
                let selectorSets: [[String]] = [["linux"], ["west"], ["gpu"], ["east"], ["linux", "east"], []]
                var created: [(id: String, selectors: [String])] = []
                for i in 0..<taskCount {
                    let sel = selectorSets[i % selectorSets.count]
                    let t = try await admin.createTask(script, selectors: sel, env: ["RUNS": runs])
                    created.append((t.id, sel))
                }
                let unmatched = try await admin.createTask("echo never", selectors: ["windows"])

                let views = try await admin.waitFinal(created.map(\.id), timeout: .seconds(90))
                XCTAssertEqual(views.count, taskCount)
                var perAgent: [String: Int] = [:]
                for v in views {
                    XCTAssertEqual(v.status, .succeeded, "task \(v.id): \(v.result?.message ?? "")")
                    XCTAssertEqual(v.attempt, 1)
                    XCTAssertEqual(v.delegateHistory.count, 1, "task \(v.id) ran on \(v.delegateHistory)")
                    let agent = names[v.delegateId ?? ""] ?? "?"
                    perAgent[agent, default: 0] += 1
                    let sel = created.first { $0.id == v.id }?.selectors ?? []
                    let tags = specs.first { $0.name == agent }?.tags ?? []
                    XCTAssertTrue(Selectors.matches(tags: tags, selectors: sel), "task with \(sel) ran on \(agent) \(tags)")
                    let ran = (try? String(contentsOfFile: runs + "/" + v.id, encoding: .utf8)) ?? ""
                    XCTAssertEqual(ran.split(separator: "\n").count, 1, "task \(v.id) ran \(ran.split(separator: "\n").count) times")
                }
                // Selector routing forces work onto specific agents.
                XCTAssertGreaterThanOrEqual(perAgent["west-1", default: 0], taskCount / 6)
                XCTAssertGreaterThanOrEqual(perAgent["east-gpu", default: 0], taskCount / 6)

                // Output arrived in order with the right content.
                let sample = created[7].id
                let logs = try await admin.logs(sample)
                XCTAssertEqual(logs.map(\.data).joined(), "run \(sample)\n")

                let waiting = try await admin.task(unmatched.id)
                XCTAssertEqual(waiting.status, .queued)
                let reason = try XCTUnwrap(waiting.waitingReason)
                XCTAssertTrue(reason.contains("windows"), reason)
                XCTAssertTrue(reason.contains("east-1"), reason)
            }
        }
    }

    func testTaskTimeoutKillsTheProcessGroupAndAbortStopsATask() async throws {
        let dir = Harness.tempDir("legate-pg")
        try await withManager { m in
            try await withAgents(m, [AgentSpec(name: "solo", tags: ["x"], capacity: 4)]) { agents in
                try await Harness.eventually("agent on the socket") { agents[0].status.mode == .socket }
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                // A background grandchild records its pid; the timeout must kill it too.
                let timed = try await admin.createTask(
                    #"sleep 60 & echo $! > "$DIR/child.pid"; echo started; wait"#, timeout: 1, env: ["DIR": dir])
                let aborted = try await admin.createTask("echo working; sleep 60")
                try await Harness.eventually("abortable task running") { try await admin.task(aborted.id).status == .running }
                try await Harness.eventually("output of the running task") { try await !admin.logs(aborted.id).isEmpty }
                let _: TaskView = try await admin.call(.POST, "/tasks/\(aborted.id)/abort")

                let views = try await admin.waitFinal([timed.id, aborted.id], timeout: .seconds(30))
                let t = try XCTUnwrap(views.first { $0.id == timed.id })
                XCTAssertEqual(t.status, .timedOut)
                XCTAssertTrue(t.result?.message?.contains("Timed out") ?? false)
                let a = try XCTUnwrap(views.first { $0.id == aborted.id })
                XCTAssertEqual(a.status, .aborted)
                XCTAssertTrue(a.result?.message?.contains("Aborted from the manager") ?? false, a.result?.message ?? "")

                let pidText = try String(contentsOfFile: dir + "/child.pid", encoding: .utf8).trimmingWhitespace()
                let pid = try XCTUnwrap(Int32(pidText))
                try await Harness.eventually("background child killed", timeout: .seconds(5)) { kill(pid, 0) != 0 }
            }
        }
    }

    func testFailedCommandReportsExitCodeAndStderr() async throws {
        try await withManager { m in
            try await withAgents(m, [AgentSpec(name: "solo")]) { agents in
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                let t = try await admin.createTask("echo oops >&2; exit 7")
                let cmd: TaskView = try await admin.call(
                    .POST, "/tasks", CreateTaskRequest(shell: ShellSpec(command: ["printf", "%s|", "a b", "c"])))
                let missing: TaskView = try await admin.call(
                    .POST, "/tasks", CreateTaskRequest(shell: ShellSpec(command: ["definitely-not-a-command-xyz"])))
                let views = try await admin.waitFinal([t.id, cmd.id, missing.id])
                let failed = try XCTUnwrap(views.first { $0.id == t.id })
                XCTAssertEqual(failed.status, .failed)
                XCTAssertEqual(failed.result?.exitCode, 7)
                let logs = try await admin.logs(t.id)
                XCTAssertEqual(logs.first?.stream, .stderr)
                XCTAssertEqual(logs.map(\.data).joined(), "oops\n")
                let cmdLogs = try await admin.logs(cmd.id).map(\.data).joined()
                XCTAssertEqual(cmdLogs, "a b|c|")
                let m2 = try XCTUnwrap(views.first { $0.id == missing.id })
                XCTAssertEqual(m2.status, .error)
                XCTAssertTrue(m2.result?.message?.contains("definitely-not-a-command-xyz") ?? false)
            }
        }
    }
}
