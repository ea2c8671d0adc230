import Foundation

/// What `--watch` does to the command when its secrets change: restart it, or send it a signal
/// (`--on-change signal:HUP`) so it re-reads `.env` and `files/` itself.
public enum ChangeAction: Sendable, Equatable {
    case restart
    case signal(Int32, name: String)

    static let signals: [String: Int32] = ["HUP": SIGHUP, "USR1": SIGUSR1, "USR2": SIGUSR2, "INT": SIGINT, "TERM": SIGTERM, "QUIT": SIGQUIT, "WINCH": SIGWINCH]

    /// Parses `restart` or `signal:NAME` (HUP, USR1, USR2, INT, TERM, QUIT, WINCH; `SIG` prefix allowed).
    public static func parse(_ text: String) throws(LoaderError) -> ChangeAction {
        if text == "restart" { return .restart }
        if text.hasPrefix("signal:") {
            var name = String(text.dropFirst("signal:".count)).uppercased()
            if name.hasPrefix("SIG") { name.removeFirst(3) }
            if let number = signals[name] { return .signal(number, name: "SIG" + name) }
        }
        throw .configuration(
            "loader_on_change", "--on-change '\(text)' is not 'restart' or 'signal:NAME' with NAME one of \(signals.keys.sorted().joined(separator: ", ")).")
    }

    public var description: String {
        switch self {
        case .restart: "restart"
        case .signal(_, let name): "signal \(name)"
        }
    }
}
