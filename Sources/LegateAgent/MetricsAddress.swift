import LegateCore

/// Where the opt-in Prometheus endpoint listens: `host:port` on loopback only, because the agent
/// never accepts connections from the network (it is outbound-only; see docs/decisions.md).
public struct MetricsAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    /// 0 picks a free port (the bound one is logged and written to the status file).
    public var port: Int

    /// Parses `127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`, or a bare port (`9464`, on 127.0.0.1).
    public init(_ text: String) throws {
        let t = text.trimmingWhitespace()
        var host = "127.0.0.1"
        var portText = t
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]"), t[t.index(after: close)...].hasPrefix(":") else {
                throw Self.invalid(text)
            }
            host = String(t[t.index(after: t.startIndex)..<close])
            portText = String(t[t.index(close, offsetBy: 2)...])
        } else if let colon = t.lastIndex(of: ":") {
            guard !t[..<colon].contains(":") else { throw Self.invalid(text) }
            host = String(t[..<colon]).lowercased()
            portText = String(t[t.index(after: colon)...])
        }
        guard let port = Int(portText), (0...65535).contains(port) else { throw Self.invalid(text) }
        guard ManagerEndpoint.isLoopback(host) else {
            throw ConfigurationError(
                code: "insecure_metrics_address",
                "metrics_listen '\(text)' is not a loopback address. Metrics are served on loopback only (127.0.0.1, ::1 or localhost), so the agent never listens on the network; scrape through a local agent or sidecar, or `kubectl port-forward`.")
        }
        self.host = host
        self.port = port
    }

    static func invalid(_ text: String) -> ConfigurationError {
        ConfigurationError("metrics_listen '\(text)' is not host:port (e.g. 127.0.0.1:9464) or a port number.")
    }

    public var description: String { Self.format(host: host, port: port) }

    static func format(host: String, port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
