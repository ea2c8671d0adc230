import Foundation
import LegateCore

/// Runs a short command to completion with stdout and stderr captured together: the `legate` CLI's
/// one-shot commands, packaging scripts and system tools.
enum Command {
    struct Result: Sendable {
        /// Exit status (128 + signal when killed), nil on timeout.
        let status: Int32?
        let output: String
    }

    static func run(_ argv: [String], env: [String: String] = [:], timeout: Duration = .seconds(120)) async throws -> Result {
        let log = Harness.tempDir("legate-cmd") + "/output"
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var e = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        for (k, v) in env { e[k] = v }
        let pid: pid_t
        do {
            pid = try ProcessSpawner.spawn(argv: argv, environment: e, stdout: fd, stderr: fd, searchPath: !argv[0].hasPrefix("/"))
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        let clock = ContinuousClock()
        let start = clock.now
        var status: Int32?
        while clock.now - start < timeout {
            if let s = ProcessSpawner.exitStatus(of: pid) {
                status = s
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        if status == nil {
            kill(pid, SIGKILL)
            _ = ProcessSpawner.exitStatus(of: pid, wait: true)
        }
        return Result(status: status, output: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// The built `legate` binary.
    static func legate(_ args: [String], env: [String: String] = [:]) async throws -> Result {
        try await run([Harness.binDirectory + "/legate"] + args, env: env, timeout: .seconds(60))
    }

    /// The package root (for scripts/, systemd/, Packaging/).
    static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}
