import LegateCore

/// Retries an operation on transient errors only, with jittered exponential backoff, within a
/// deadline. Permanent errors and non-Legate errors are rethrown at once.
public struct RetryPolicy: Sendable {
    public var backoff: Backoff
    public var maxAttempts: Int
    public var deadline: Duration

    public init(
        backoff: Backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5)), maxAttempts: Int = 6,
        deadline: Duration = .seconds(30)
    ) {
        self.backoff = backoff
        self.maxAttempts = max(1, maxAttempts)
        self.deadline = deadline
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    /// Runs `operation`; `sleep` is injectable so tests need not wait.
    public func run<T: Sendable>(
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        _ operation: () async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 0
        while true {
            do {
                return try await operation()
            } catch let error as any LegateError where error.isTransient {
                attempt += 1
                let delay = backoff.delay(attempt: attempt - 1)
                guard attempt < maxAttempts, clock.now - start + delay < deadline else { throw error }
                try await sleep(delay)
            }
        }
    }
}
