import LegateCore

/// A driver failure, classified the way gitlab-runner splits secret-resolver errors: "your
/// configuration is wrong" (fix the connector) versus "the provider failed" (maybe retry).
public struct ProviderError: LegateError, Equatable {
    public let code: String
    public let message: String
    public let origin: ErrorOrigin
    public let persistence: ErrorPersistence

    public init(code: String, message: String, origin: ErrorOrigin, persistence: ErrorPersistence) {
        self.code = code
        self.message = message
        self.origin = origin
        self.persistence = persistence
    }

    /// The connector's configuration or credentials are wrong; retrying will not help.
    public static func configuration(_ code: String, _ message: String) -> ProviderError {
        ProviderError(code: code, message: message, origin: .configuration, persistence: .permanent)
    }

    /// The provider answered with a failure that will not go away by itself (not found, denied).
    public static func permanent(_ code: String, _ message: String) -> ProviderError {
        ProviderError(code: code, message: message, origin: .external, persistence: .permanent)
    }

    /// Throttling, 5xx, timeouts: retried with backoff.
    public static func transient(_ code: String, _ message: String) -> ProviderError {
        ProviderError(code: code, message: message, origin: .external, persistence: .transient)
    }
}
