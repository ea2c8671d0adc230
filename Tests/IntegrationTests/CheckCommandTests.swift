import Foundation
import LegateCore
import XCTest

/// `legate check`: the configuration `legate run` would use, and `--connect`.
final class CheckCommandTests: XCTestCase {

    func testCheckPrintsTheMergedConfigurationWithoutTheToken() async throws {
        let dir = Harness.tempDir("legate-check")
        let token = "lgt_tok_check.s3cr3t-value-never-printed"
        try FileIO.write(token, to: dir + "/token", mode: 0o600)
        try FileIO.write(
            """
            manager_url: https://file.example.com:8443
            token_file: \(dir)/token
            tags: [linux, from-file]
            capacity: 4
            state_dir: \(dir)/state
            """, to: dir + "/legate.yaml", mode: 0o644)
        // Same precedence as `run`: the environment beats the file, flags beat the environment.
        let ok = try await Command.legate(
            ["check", "--config", dir + "/legate.yaml", "--capacity", "6", "--metrics-listen", "127.0.0.1:9464"],
            env: ["LEGATE_TAGS": "linux,from-env", "LEGATE_CAPACITY": "5"])
        XCTAssertEqual(ok.status, 0, ok.output)
        for expected in [
            "manager_url          https://file.example.com:8443", "tags                 linux, from-env", "capacity             6",
            "token                from file \(dir)/token (\(token.count) characters)", "metrics_listen       http://127.0.0.1:9464/metrics",
            "configuration OK",
        ] {
            XCTAssertTrue(ok.output.contains(expected), "missing '\(expected)' in\n\(ok.output)")
        }
        XCTAssertFalse(ok.output.contains("s3cr3t"), "the token must never be printed")

        let bad = try await Command.legate(["check", "--config", dir + "/legate.yaml", "--manager-url", "http://10.0.0.5"])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.output.contains("[insecure_manager_url]"), bad.output)
        let metrics = try await Command.legate(["check", "--config", dir + "/legate.yaml"], env: ["LEGATE_METRICS_LISTEN": "0.0.0.0:9464"])
        XCTAssertEqual(metrics.status, 1, metrics.output)
        XCTAssertTrue(metrics.output.contains("[insecure_metrics_address]"), metrics.output)
        let noToken = try await Command.legate(["check", "--manager-url", "https://m.example.com", "--state-dir", dir + "/state"])
        XCTAssertEqual(noToken.status, 1, noToken.output)
        XCTAssertTrue(noToken.output.contains("[missing_token]"), noToken.output)
    }

    func testCheckConnectRegistersOnceOrSaysWhyNot() async throws {
        try await withManager { m in
            let (_, tokenFile) = try await m.tokenFile("check")
            let args = ["check", "--connect", "--manager-url", m.url, "--token-file", tokenFile, "--name", "checked", "--state-dir", m.stateDirectory + "/check"]
            let ok = try await Command.legate(args + ["--ca-file", m.caFile])
            XCTAssertEqual(ok.status, 0, ok.output)
            XCTAssertTrue(ok.output.contains("connected: registered with \(m.url) as d_"), ok.output)
            let delegates = try await m.core.delegates()
            XCTAssertTrue(delegates.contains { $0.name == "checked" })

            // Without the manager's CA the TLS handshake fails: exit 2, and the message names the fix.
            let untrusted = try await Command.legate(args)
            XCTAssertEqual(untrusted.status, 2, untrusted.output)
            XCTAssertTrue(untrusted.output.contains("ca_file"), untrusted.output)
        }
    }
}
