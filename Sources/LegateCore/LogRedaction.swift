import Synchronization

/// A process-wide filter applied to every log line before it is written, so the agent's own logs
/// go through the same masker as task output. The agent installs it; nothing else needs to know.
public enum LogRedaction {
    private static let filter = Mutex<(@Sendable (String) -> String)?>(nil)

    public static func install(_ f: (@Sendable (String) -> String)?) {
        filter.withLock { $0 = f }
    }

    public static func apply(_ line: String) -> String {
        guard let f = filter.withLock({ $0 }) else { return line }
        return f(line)
    }
}
