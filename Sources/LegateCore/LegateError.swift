/// Whether a failure is the operator's to fix or an outside party's.
public enum ErrorOrigin: String, Sendable, Codable {
    /// Configuration or input is wrong: retrying will not help until someone changes it.
    case configuration
    /// A peer (manager, provider, network) failed.
    case external
}

/// Whether retrying the same operation may succeed.
public enum ErrorPersistence: String, Sendable, Codable {
    case transient
    case permanent
}

/// Every error Legate raises carries a stable code, an operator-facing message that says what to
/// fix, and a classification used by retry loops.
public protocol LegateError: Error, CustomStringConvertible, Sendable {
    /// Stable, machine-readable code (snake_case), also used on the wire.
    var code: String { get }
    /// What went wrong, where, and what to do about it. Must never contain a secret.
    var message: String { get }
    var origin: ErrorOrigin { get }
    var persistence: ErrorPersistence { get }
}

extension LegateError {
    public var description: String { "\(message) [\(code)]" }
    public var isTransient: Bool { persistence == .transient }
}

/// A configuration problem found before anything was started.
public struct ConfigurationError: LegateError, Equatable {
    public let code: String
    public let message: String
    public var origin: ErrorOrigin { .configuration }
    public var persistence: ErrorPersistence { .permanent }

    public init(code: String = "invalid_configuration", _ message: String) {
        self.code = code
        self.message = message
    }
}
