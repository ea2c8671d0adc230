import Foundation
import LegateAgent
import LegateCore
import LegateManager
import LegateWire
import XCTest

/// Delegate tokens, session tokens and admin keys never show up in logs, URLs or the database.
final class HygieneTests: XCTestCase {
    func testTokensNeverAppearInLogsURLsOrTheDatabase() async throws {
        let logs = LogCapture()
        var settings = Harness.fastSettings()
        settings.sessionTTL = .seconds(3)  // forces several refreshes during the test
        let dir = Harness.tempDir("legate-hygiene")
        let (tokens, adminKey, stateDir) = try await withManager(settings: settings, logs: logs) { m in
            let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await admin.shutdown() } }
            let (subToken, subTokenFile) = try await m.tokenFile("subprocess")
            let sub = try ChildProcess(
                "legate",
                ["run", "--manager-url", m.url, "--token-file", subTokenFile, "--ca-file", m.caFile, "--name", "sub", "--log-level", "trace"],
                logPath: dir + "/sub.log")
            let inProcess = try await withAgents(m, [AgentSpec(name: "inproc")], logs: logs) { agents in
                try await Harness.eventually("agent on the socket") { agents[0].status.mode == .socket }
                var ids: [String] = []
                for i in 0..<6 { ids.append(try await admin.createTask("echo hygiene \(i)").id) }
                _ = try await admin.waitFinal(ids)
                try await Harness.eventually("two session refreshes", timeout: .seconds(15)) { agents[0].status.sessionRefreshes >= 2 }
                // The refreshed session keeps working.
                let t = try await admin.createTask("echo after refresh")
                let done = try await admin.waitFinal([t.id])
                XCTAssertEqual(done.first?.status, .succeeded)
                return try String(contentsOfFile: m.stateDirectory + "/token-" + (try await admin.call(.GET, "/tokens", as: [TokenView].self)).first { $0.name == "pool" }!.id, encoding: .utf8)
            }
            sub.signal(SIGTERM)
            _ = await sub.wait()
            logs.append(sub.output)
            return ([subToken.token, inProcess], admin.key, m.stateDirectory)
        }
        let text = logs.text
        XCTAssertGreaterThan(text.count, 1000, "expected trace/debug logs to scan")
        XCTAssertTrue(text.contains("/api/v1/delegates/"), "request paths should be logged")
        for secret in tokens + [adminKey] {
            let secretPart = String(secret.split(separator: ".").last ?? "")
            XCTAssertFalse(text.contains(secretPart), "a token secret appears in the logs")
        }
        for prefix in ["lgt_", "lst_", "lak_"] {
            XCTAssertFalse(text.contains(prefix), "something shaped like a token (\(prefix)…) appears in the logs")
        }
        // The database holds hashes only.
        var db = Data()
        for f in ["manager.sqlite", "manager.sqlite-wal"] {
            db.append(FileManager.default.contents(atPath: stateDir + "/" + f) ?? Data())
        }
        XCTAssertGreaterThan(db.count, 0)
        for secret in tokens + [adminKey] {
            let secretPart = Data((secret.split(separator: ".").last ?? "").utf8)
            XCTAssertNil(db.range(of: secretPart), "a token secret is stored in the database")
        }
    }
}
