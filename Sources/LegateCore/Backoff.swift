/// Exponential backoff with full jitter, as a value: callers keep the attempt count and ask for the
/// next delay. Randomness is injected so tests are deterministic.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    /// Fraction of the delay that is randomised (0 = none, 1 = full jitter).
    public var jitter: Double

    public init(initial: Duration, maximum: Duration, multiplier: Double = 2, jitter: Double = 0.5) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before retry number `attempt` (0-based), with `unit` a random number in [0, 1).
    public func delay(attempt: Int, unit: Double) -> Duration {
        let base = initial.seconds * pow(multiplier, Double(min(attempt, 62)))
        let capped = min(base, maximum.seconds)
        let jittered = capped * (1 - jitter) + capped * jitter * min(max(unit, 0), 1)
        return .nanoseconds(Int64(jittered * 1e9))
    }

    public func delay(attempt: Int) -> Duration {
        delay(attempt: attempt, unit: Double.random(in: 0..<1))
    }
}

extension Duration {
    /// The duration as fractional seconds.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var i = 0.0
    while i < exponent {
        result *= base
        i += 1
    }
    return result
}
