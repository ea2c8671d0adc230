import AsyncHTTPClient
import Foundation
import LegateCore

/// moto_server (the AWS mock from PyPI `moto[server]`, installed by scripts/install-peers) on a
/// free loopback port, prepared by Tests/Peers/moto_fixture.py, which creates IAM users, a role
/// and KMS keys and then turns signature checking on. Used by `legate bench kms` and the tests.
public final class MotoPeer: Sendable {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    public let url: String
    /// The fixture's JSON (keys, role ARN, key ARNs, an assumed-role session).
    public let fixture: Data
    public let pid: pid_t
    public let logPath: String

    init(url: String, fixture: Data, pid: pid_t, logPath: String) {
        self.url = url
        self.fixture = fixture
        self.pid = pid
        self.logPath = logPath
    }

    /// `peersBin`: the venv's bin directory; `fixtureScript`: Tests/Peers/moto_fixture.py.
    public static func start(peersBin: String, fixtureScript: String, workDir: String) async throws -> MotoPeer {
        let moto = peersBin + "/moto_server"
        let python = peersBin + "/python"
        for tool in [moto, python] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw Missing(description: "\(tool) is missing; run scripts/install-peers")
        }
        guard FileManager.default.fileExists(atPath: fixtureScript) else {
            throw Missing(description: "\(fixtureScript) is missing; run from the repository root")
        }
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let port = try LoopbackPort.free()
        let logPath = workDir + "/moto.log"
        let env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(fd) }
        let pid = try ProcessSpawner.spawn(argv: [moto, "-H", "127.0.0.1", "-p", String(port)], environment: env, stdout: fd, stderr: fd)
        let url = "http://127.0.0.1:\(port)"
        let peer = MotoPeer(url: url, fixture: Data(), pid: pid, logPath: logPath)
        do {
            try await waitReady(url)
            let out = workDir + "/fixture.json"
            let o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            defer { close(o) }
            let fixturePid = try ProcessSpawner.spawn(argv: [python, fixtureScript, url], environment: env, stdout: o, stderr: fd)
            var status: Int32?
            while status == nil {
                status = ProcessSpawner.exitStatus(of: fixturePid)
                if status == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            guard status == 0, let data = FileManager.default.contents(atPath: out), !data.isEmpty else {
                throw Missing(description: "the moto fixture failed (exit \(status ?? -1)); see \(logPath)")
            }
            return MotoPeer(url: url, fixture: data, pid: pid, logPath: logPath)
        } catch {
            peer.stop()
            throw error
        }
    }

    static func waitReady(_ url: String) async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < .seconds(30) {
            if let r = try? await http.execute(HTTPClientRequest(url: url + "/moto-api/"), timeout: .seconds(2)), r.status == .ok {
                try? await http.shutdown()
                return
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        try? await http.shutdown()
        throw Missing(description: "moto_server did not answer on \(url) within 30 s")
    }

    /// Stops moto by PID.
    public func stop() {
        kill(pid, SIGTERM)
        for _ in 0..<20 {
            if ProcessSpawner.exitStatus(of: pid) != nil { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        _ = ProcessSpawner.exitStatus(of: pid, wait: true)
    }
}
