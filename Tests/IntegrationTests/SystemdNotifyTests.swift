import Foundation
import LegateCore
import LegateManager
import Synchronization
import XCTest

/// A stand-in for systemd's notify socket: a unix datagram socket that records every message with
/// its arrival time, on a thread of its own (blocking reads stay off the test's executors).
final class NotifyListener: Sendable {
    struct Received: Sendable {
        let at: ContinuousClock.Instant
        let text: String
        /// The `KEY=VALUE` assignments of the datagram.
        var fields: [String: String] {
            var f: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                f[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
            return f
        }
    }

    let path: String
    private let fd: Int32
    private let received = Mutex<[Received]>([])
    private let stopped = Atomic<Bool>(false)

    init(directory: String) throws {
        path = directory + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8) + [0]
        guard fd >= 0, bytes.count <= MemoryLayout.size(ofValue: addr.sun_path) else { throw POSIXError(.ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(2 + bytes.count)) } }
        guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
        let thread = Thread { [self] in readLoop() }
        thread.start()
    }

    private func readLoop() {
        var buf = [UInt8](repeating: 0, count: 4096)
        while !stopped.load(ordering: .relaxed) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) == 1 else { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 {
                let message = Received(at: .now, text: String(decoding: buf.prefix(n), as: UTF8.self))
                received.withLock { $0.append(message) }
            }
        }
        close(fd)
        unlink(path)
    }

    var messages: [Received] { received.withLock { $0 } }

    func stop() { stopped.store(true, ordering: .relaxed) }
}

/// The real `legate` binary under a fake systemd: READY, STATUS, WATCHDOG and STOPPING.
final class SystemdNotifyTests: XCTestCase {

    func testAgentNotifiesSystemdThroughItsLifecycle() async throws {
        let dir = Harness.tempDir("legate-notify")
        let listener = try NotifyListener(directory: dir)
        defer { listener.stop() }
        try await withManager(settings: Harness.fastSettings(heartbeat: .seconds(1))) { m in
            let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await admin.shutdown() } }
            let (_, tokenFile) = try await m.tokenFile("notify")
            let agent = try ChildProcess(
                "legate",
                ["run", "--manager-url", m.url, "--token-file", tokenFile, "--ca-file", m.caFile, "--name", "notified",
                 "--state-dir", dir + "/state", "--drain-grace-seconds", "5"],
                // WATCHDOG_USEC=1 s: pings due every 500 ms. WATCHDOG_PID unset: meant for this process.
                env: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000"],
                logPath: dir + "/agent.log")
            defer { agent.signal(SIGKILL) }

            try await Harness.eventually("READY=1", timeout: .seconds(20)) { listener.messages.contains { $0.fields["READY"] == "1" } }
            let all = listener.messages
            let readyIndex = try XCTUnwrap(all.firstIndex { $0.fields["READY"] == "1" })
            XCTAssertTrue(all[..<readyIndex].contains { $0.fields["STATUS"]?.hasPrefix("Registering with") == true }, "\(all.map(\.text))")
            XCTAssertFalse(all[..<readyIndex].contains { $0.fields["WATCHDOG"] != nil }, "no watchdog pings before READY=1")
            try await Harness.eventually("socket mode STATUS") {
                listener.messages.contains { $0.fields["STATUS"]?.hasPrefix("Socket mode") == true }
            }

            // Watchdog pings at half of WATCHDOG_USEC, from the event loop's 100 ms ticks.
            let windowStart = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(2600))
            let pings = listener.messages.filter { $0.fields["WATCHDOG"] == "1" && $0.at >= windowStart }.map(\.at)
            XCTAssertGreaterThanOrEqual(pings.count, 4, "pings in 2.6 s: \(pings.count)")
            XCTAssertLessThanOrEqual(pings.count, 6, "pings in 2.6 s: \(pings.count)")
            let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
            for gap in gaps {
                XCTAssertGreaterThanOrEqual(gap, .milliseconds(450), "gaps \(gaps)")
                XCTAssertLessThan(gap, .milliseconds(1000), "gaps \(gaps) — a gap of WATCHDOG_USEC would get the agent killed")
            }

            // The stream fails: STATUS says polling.
            try await admin.setStreams(.refuse)
            try await Harness.eventually("polling STATUS", timeout: .seconds(10)) {
                listener.messages.contains { $0.fields["STATUS"]?.hasPrefix("Polling mode") == true }
            }

            // SIGTERM: STOPPING=1, then a clean exit.
            agent.signal(SIGTERM)
            let status = await agent.wait(timeout: .seconds(15))
            XCTAssertEqual(status, 0, agent.output)
            let stopping = try XCTUnwrap(listener.messages.first { $0.fields["STOPPING"] == "1" }, "\(listener.messages.map(\.text))")
            XCTAssertTrue(stopping.fields["STATUS"]?.hasPrefix("Draining") == true, stopping.text)
            XCTAssertEqual(listener.messages.filter { $0.fields["READY"] == "1" }.count, 1)
        }
    }
}
