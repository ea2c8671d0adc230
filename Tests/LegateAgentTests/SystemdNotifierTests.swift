import Foundation
import XCTest

@testable import LegateAgent

/// A unix datagram socket standing in for systemd's notify socket.
final class NotifySocket {
    let fd: Int32
    /// The NOTIFY_SOCKET value that reaches this socket.
    let address: String
    private let path: String?

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let unique = "legate-notify-\(UUID().uuidString.prefix(8))"
        var bytes: [UInt8]
        if abstract {
            address = "@" + unique
            path = nil
            bytes = [0] + Array(unique.utf8)
        } else {
            let p = NSTemporaryDirectory() + unique + ".sock"
            address = p
            path = p
            bytes = Array(p.utf8) + [0]
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let len = socklen_t(2 + bytes.count)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard fd >= 0, rc == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    /// The next datagram, or nil after `timeoutMs`.
    func receive(timeoutMs: Int32 = 2000) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMs) == 1 else { return nil }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buf, buf.count, 0)
        return n >= 0 ? String(decoding: buf.prefix(n), as: UTF8.self) : nil
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }
}

final class SystemdNotifierTests: XCTestCase {

    func testMessageFormatting() {
        XCTAssertEqual(SystemdNotifier.Message.ready(status: nil).text, "READY=1")
        XCTAssertEqual(SystemdNotifier.Message.ready(status: "Socket mode").text, "READY=1\nSTATUS=Socket mode")
        XCTAssertEqual(SystemdNotifier.Message.status("Polling").text, "STATUS=Polling")
        XCTAssertEqual(SystemdNotifier.Message.stopping(status: "Draining").text, "STOPPING=1\nSTATUS=Draining")
        XCTAssertEqual(SystemdNotifier.Message.watchdog.text, "WATCHDOG=1")
        // A newline would start a new assignment (an error text could otherwise forge READY=1).
        XCTAssertEqual(SystemdNotifier.Message.status("bad\nREADY=1").text, "STATUS=bad READY=1")
        let long = SystemdNotifier.Message.status(String(repeating: "x", count: 2000)).text
        XCTAssertEqual(long.count, "STATUS=".count + 512)
        XCTAssertTrue(long.hasSuffix("..."))
    }

    func testUnsetNotifySocketIsANoOp() throws {
        for env in [[:], ["NOTIFY_SOCKET": ""], ["WATCHDOG_USEC": "1000000"]] {
            let n = SystemdNotifier(environment: env)
            XCTAssertFalse(n.isEnabled)
            XCTAssertNil(n.watchdogInterval, "no watchdog without a socket")
            XCTAssertNoThrow(try n.send(.ready(status: "x")))
        }
    }

    func testAddressParsing() {
        XCTAssertEqual(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/systemd/notify"]).address, .path("/run/systemd/notify"))
        XCTAssertEqual(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@/org/systemd/x"]).address, .abstract("/org/systemd/x"))
        guard case .unsupported(let why) = SystemdNotifier(environment: ["NOTIFY_SOCKET": "vsock:2:1234"]).address else {
            return XCTFail("vsock should be unsupported")
        }
        XCTAssertTrue(why.contains("vsock:2:1234"), why)
        XCTAssertThrowsError(try SystemdNotifier(environment: ["NOTIFY_SOCKET": "vsock:2:1234"]).send(.watchdog)) { e in
            XCTAssertEqual((e as? SystemdNotifier.Failure)?.code, "systemd_notify_failed")
        }
    }

    func testSendsToAPathSocket() throws {
        let sock = try NotifySocket(abstract: false)
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": sock.address])
        try n.send(.ready(status: "Socket mode"))
        XCTAssertEqual(sock.receive(), "READY=1\nSTATUS=Socket mode")
        try n.send(.watchdog)
        XCTAssertEqual(sock.receive(), "WATCHDOG=1")
    }

    func testSendsToAnAbstractSocket() throws {
        let sock = try NotifySocket(abstract: true)
        XCTAssertTrue(sock.address.hasPrefix("@"))
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": sock.address])
        try n.send(.stopping(status: "Draining"))
        XCTAssertEqual(sock.receive(), "STOPPING=1\nSTATUS=Draining")
    }

    func testMissingSocketIsAClearError() {
        let n = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/legate/notify"])
        XCTAssertThrowsError(try n.send(.watchdog)) { e in
            let message = (e as? SystemdNotifier.Failure)?.message ?? ""
            XCTAssertTrue(message.contains("/nonexistent/legate/notify"), message)
        }
    }

    func testWatchdogIntervalIsHalfOfWatchdogUsecForThisProcessOnly() {
        let base = ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000"]
        XCTAssertEqual(SystemdNotifier(environment: base, pid: 42).watchdogInterval, .seconds(15))
        var mine = base
        mine["WATCHDOG_PID"] = "42"
        XCTAssertEqual(SystemdNotifier(environment: mine, pid: 42).watchdogInterval, .seconds(15))
        var other = base
        other["WATCHDOG_PID"] = "43"
        XCTAssertNil(SystemdNotifier(environment: other, pid: 42).watchdogInterval, "the variables were meant for another process")
        for bad in ["0", "", "abc", "-5"] {
            var e = base
            e["WATCHDOG_USEC"] = bad
            XCTAssertNil(SystemdNotifier(environment: e, pid: 42).watchdogInterval, "WATCHDOG_USEC=\(bad)")
        }
        var garbagePid = base
        garbagePid["WATCHDOG_PID"] = "x"
        XCTAssertNil(SystemdNotifier(environment: garbagePid, pid: 42).watchdogInterval)
    }

    func testWatchdogPacerPingsOncePerInterval() {
        var pacer = WatchdogPacer(interval: .milliseconds(500))
        let t0 = ContinuousClock.now
        var pings: [Int] = []
        // The event loop ticks every 100 ms.
        for tick in 0..<30 where pacer.isDue(now: t0 + .milliseconds(100 * tick)) { pings.append(tick * 100) }
        XCTAssertEqual(pings, [0, 500, 1000, 1500, 2000, 2500])
        // A stalled loop (no ticks for 3 s) is simply late: the next tick pings once.
        XCTAssertTrue(pacer.isDue(now: t0 + .seconds(6)))
        XCTAssertFalse(pacer.isDue(now: t0 + .seconds(6) + .milliseconds(100)))
    }
}
