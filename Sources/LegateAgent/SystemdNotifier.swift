import Foundation
import LegateCore

/// Tells systemd about the agent's lifecycle with the sd_notify protocol: newline-separated
/// `KEY=VALUE` lines in one datagram to the unix socket named by `$NOTIFY_SOCKET`.
///
/// Implemented here rather than linking libsystemd: the protocol is one `sendto(2)`, and the agent
/// must run the same where systemd is absent (containers, other init systems). Without
/// `NOTIFY_SOCKET` every send is a no-op.
public struct SystemdNotifier: Sendable {
    /// A message could not be delivered to systemd.
    public struct Failure: LegateError {
        public let code = "systemd_notify_failed"
        public let message: String
        public var origin: ErrorOrigin { .external }
        public var persistence: ErrorPersistence { .transient }
    }

    /// Where `$NOTIFY_SOCKET` points.
    public enum Address: Sendable, Equatable {
        /// A socket file, e.g. `/run/systemd/notify`.
        case path(String)
        /// A Linux abstract socket (`@name` in the variable; the name starts with a NUL byte on the wire).
        case abstract(String)
        /// Something this implementation does not speak (e.g. `vsock:`); the reason says what.
        case unsupported(String)
    }

    /// One notification.
    public enum Message: Sendable, Equatable {
        /// Start-up finished (`READY=1`), with an optional status line.
        case ready(status: String?)
        /// A free-form status line shown by `systemctl status` (`STATUS=`).
        case status(String)
        /// Shutdown began (`STOPPING=1`), with an optional status line.
        case stopping(status: String?)
        /// The watchdog keep-alive (`WATCHDOG=1`).
        case watchdog

        /// The datagram's text. Status lines are flattened to one line and capped, because a
        /// newline would start a new assignment.
        public var text: String {
            switch self {
            case .ready(let status): ["READY=1", status.map(Self.statusLine)].compactMap { $0 }.joined(separator: "\n")
            case .status(let status): Self.statusLine(status)
            case .stopping(let status): ["STOPPING=1", status.map(Self.statusLine)].compactMap { $0 }.joined(separator: "\n")
            case .watchdog: "WATCHDOG=1"
            }
        }

        static func statusLine(_ s: String) -> String {
            let flat = String(s.map { $0.isNewline ? " " : $0 })
            return "STATUS=" + (flat.count > 512 ? String(flat.prefix(509)) + "..." : flat)
        }
    }

    /// nil when `NOTIFY_SOCKET` is unset or empty: the process is not supervised by systemd.
    public let address: Address?
    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises.
    /// nil when the watchdog is off, or meant for another process (`WATCHDOG_PID` ≠ our pid).
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`; `pid` is this
    /// process's id (injected for tests).
    public init(environment: [String: String], pid: Int32 = getpid()) {
        address = Self.parse(environment["NOTIFY_SOCKET"])
        guard address != nil, let usecText = environment["WATCHDOG_USEC"], let usec = UInt64(usecText), usec > 0 else {
            watchdogInterval = nil
            return
        }
        // systemd sets WATCHDOG_PID to the main process; a child that inherited the variables must not ping.
        if let pidText = environment["WATCHDOG_PID"], !pidText.isEmpty, Int32(pidText) != pid {
            watchdogInterval = nil
            return
        }
        watchdogInterval = .microseconds(usec / 2)
    }

    /// Whether notifications go anywhere.
    public var isEnabled: Bool { address != nil }

    static func parse(_ value: String?) -> Address? {
        guard let value, !value.isEmpty else { return nil }
        if value.hasPrefix("@") { return .abstract(String(value.dropFirst())) }
        if value.hasPrefix("/") { return .path(value) }
        return .unsupported("NOTIFY_SOCKET '\(value)' is neither a socket path nor an abstract name (@…); only unix sockets are supported.")
    }

    /// Sends one message; a no-op when not supervised.
    public func send(_ message: Message) throws(Failure) {
        try send(text: message.text)
    }

    /// Sends raw sd_notify text (`KEY=VALUE` lines); a no-op when not supervised.
    public func send(text: String) throws(Failure) {
        guard let address else { return }
        let name: [UInt8]
        switch address {
        case .path(let p): name = Array(p.utf8) + [0]
        case .abstract(let a): name = [0] + Array(a.utf8)
        case .unsupported(let why): throw Failure(message: why)
        }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard name.count <= capacity else {
            throw Failure(message: "NOTIFY_SOCKET is longer than a unix socket address allows (\(capacity) bytes).")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t((MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2) + name.count)

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(message: "Cannot create a socket for systemd notifications: \(String(cString: strerror(errno))).") }
        defer { close(fd) }
        let payload = Array(text.utf8)
        // Non-blocking: a busy systemd must never stall the agent's event loop.
        let sent = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), sa, length) }
            }
        }
        guard sent == payload.count else {
            throw Failure(message: "Cannot notify systemd at \(Self.describe(address)): \(String(cString: strerror(errno))).")
        }
    }

    static func describe(_ address: Address) -> String {
        switch address {
        case .path(let p): p
        case .abstract(let a): "@" + a
        case .unsupported(let why): why
        }
    }
}

/// Paces watchdog pings: due at once, then once per interval. Driven by the agent's event loop, so
/// when the loop stops ticking, the pings stop and systemd restarts the agent.
public struct WatchdogPacer: Sendable {
    public let interval: Duration
    private var last: ContinuousClock.Instant?

    public init(interval: Duration) { self.interval = interval }

    /// Whether a ping is due at `now`; if so, records it as sent.
    public mutating func isDue(now: ContinuousClock.Instant) -> Bool {
        if let last, now - last < interval { return false }
        last = now
        return true
    }
}
