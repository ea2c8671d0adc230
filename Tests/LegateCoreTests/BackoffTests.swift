import LegateCore
import XCTest

final class BackoffTests: XCTestCase {
    // MARK: delay(attempt:unit:)

    func testSameInputsGiveSameDelay() {
        let b = Backoff(initial: .milliseconds(100), maximum: .seconds(10), jitter: 0.5)
        for attempt in 0..<10 {
            for unit in [0.0, 0.25, 0.5, 0.999] {
                XCTAssertEqual(
                    b.delay(attempt: attempt, unit: unit), b.delay(attempt: attempt, unit: unit),
                    "attempt \(attempt) unit \(unit)")
            }
        }
    }

    func testNoJitterGivesExactExponentialValues() {
        let b = Backoff(initial: .milliseconds(100), maximum: .seconds(1000), multiplier: 2, jitter: 0)
        XCTAssertEqual(b.delay(attempt: 0, unit: 0.7), .milliseconds(100))
        XCTAssertEqual(b.delay(attempt: 1, unit: 0.7), .milliseconds(200))
        XCTAssertEqual(b.delay(attempt: 2, unit: 0.7), .milliseconds(400))
        XCTAssertEqual(b.delay(attempt: 3, unit: 0.7), .milliseconds(800))
        XCTAssertEqual(b.delay(attempt: 4, unit: 0.7), .milliseconds(1600))
        XCTAssertEqual(b.delay(attempt: 10, unit: 0.7), .milliseconds(102_400))
        // With jitter 0 the unit makes no difference.
        XCTAssertEqual(b.delay(attempt: 3, unit: 0), b.delay(attempt: 3, unit: 0.999))
    }

    func testOtherMultiplier() {
        let b = Backoff(initial: .seconds(1), maximum: .seconds(1000), multiplier: 3, jitter: 0)
        XCTAssertEqual(b.delay(attempt: 0, unit: 0), .seconds(1))
        XCTAssertEqual(b.delay(attempt: 1, unit: 0), .seconds(3))
        XCTAssertEqual(b.delay(attempt: 2, unit: 0), .seconds(9))
        XCTAssertEqual(b.delay(attempt: 4, unit: 0), .seconds(81))
    }

    func testGrowsMonotonicallyUntilCapped() {
        let b = Backoff(initial: .milliseconds(50), maximum: .seconds(3), jitter: 0)
        var previous = Duration.zero
        var reachedCap = false
        for attempt in 0..<20 {
            let d = b.delay(attempt: attempt, unit: 0)
            XCTAssertGreaterThanOrEqual(d, previous, "attempt \(attempt)")
            XCTAssertLessThanOrEqual(d, .seconds(3), "attempt \(attempt)")
            if d == .seconds(3) { reachedCap = true } else { XCTAssertGreaterThan(d, previous) }
            previous = d
        }
        XCTAssertTrue(reachedCap)
    }

    func testCappedAtMaximum() {
        let b = Backoff(initial: .seconds(1), maximum: .seconds(5), jitter: 0)
        XCTAssertEqual(b.delay(attempt: 2, unit: 0), .seconds(4))
        XCTAssertEqual(b.delay(attempt: 3, unit: 0), .seconds(5))
        XCTAssertEqual(b.delay(attempt: 4, unit: 0), .seconds(5))
        XCTAssertEqual(b.delay(attempt: 30, unit: 0), .seconds(5))
        let jittered = Backoff(initial: .seconds(1), maximum: .seconds(5), jitter: 1)
        XCTAssertEqual(jittered.delay(attempt: 30, unit: 1), .seconds(5))
    }

    func testJitterRangeBounds() {
        // jitter 0.5: unit 0 gives half the delay, unit 1 the full delay.
        let half = Backoff(initial: .seconds(2), maximum: .seconds(60), jitter: 0.5)
        XCTAssertEqual(half.delay(attempt: 0, unit: 0), .seconds(1))
        XCTAssertEqual(half.delay(attempt: 0, unit: 1), .seconds(2))
        XCTAssertEqual(half.delay(attempt: 0, unit: 0.5), .milliseconds(1500))
        XCTAssertEqual(half.delay(attempt: 2, unit: 0), .seconds(4))
        XCTAssertEqual(half.delay(attempt: 2, unit: 1), .seconds(8))

        // Full jitter: unit 0 gives zero, unit 1 the full delay.
        let full = Backoff(initial: .seconds(2), maximum: .seconds(60), jitter: 1)
        XCTAssertEqual(full.delay(attempt: 1, unit: 0), .zero)
        XCTAssertEqual(full.delay(attempt: 1, unit: 1), .seconds(4))
        XCTAssertEqual(full.delay(attempt: 1, unit: 0.25), .seconds(1))

        // Every unit in [0, 1) stays within [capped * (1 - jitter), capped].
        for i in 0..<100 {
            let unit = Double(i) / 100
            let d = half.delay(attempt: 3, unit: unit)
            XCTAssertGreaterThanOrEqual(d, .seconds(8), "unit \(unit)")
            XCTAssertLessThanOrEqual(d, .seconds(16), "unit \(unit)")
        }
    }

    func testUnitOutsideRangeIsClamped() {
        let b = Backoff(initial: .seconds(2), maximum: .seconds(60), jitter: 0.5)
        XCTAssertEqual(b.delay(attempt: 0, unit: -3), .seconds(1))
        XCTAssertEqual(b.delay(attempt: 0, unit: 7), .seconds(2))
    }

    func testJitterParameterIsClamped() {
        XCTAssertEqual(Backoff(initial: .seconds(1), maximum: .seconds(2), jitter: 5).jitter, 1)
        XCTAssertEqual(Backoff(initial: .seconds(1), maximum: .seconds(2), jitter: -1).jitter, 0)
        XCTAssertEqual(Backoff(initial: .seconds(1), maximum: .seconds(2)).jitter, 0.5)
    }

    func testHugeAttemptNumbersDoNotOverflow() {
        let b = Backoff(initial: .milliseconds(100), maximum: .seconds(30), jitter: 0.5)
        for attempt in [62, 63, 64, 100, 1_000, 1 << 40, Int.max] {
            XCTAssertEqual(b.delay(attempt: attempt, unit: 1), .seconds(30), "attempt \(attempt)")
            XCTAssertEqual(b.delay(attempt: attempt, unit: 0), .seconds(15), "attempt \(attempt)")
        }
        // A large multiplier does not overflow either.
        let steep = Backoff(initial: .seconds(1), maximum: .seconds(3600), multiplier: 1000, jitter: 0)
        XCTAssertEqual(steep.delay(attempt: Int.max, unit: 0), .seconds(3600))
    }

    func testNegativeAttemptActsLikeFirst() {
        let b = Backoff(initial: .milliseconds(100), maximum: .seconds(30), jitter: 0)
        XCTAssertEqual(b.delay(attempt: -1, unit: 0), .milliseconds(100))
        XCTAssertEqual(b.delay(attempt: Int.min, unit: 0), .milliseconds(100))
    }

    func testRandomDelayStaysInRange() {
        let b = Backoff(initial: .seconds(1), maximum: .seconds(10), jitter: 0.5)
        for _ in 0..<200 {
            let d = b.delay(attempt: 2)
            XCTAssertGreaterThanOrEqual(d, .seconds(2))
            XCTAssertLessThanOrEqual(d, .seconds(4))
        }
    }

    // MARK: Duration helpers

    func testDurationSeconds() {
        XCTAssertEqual(Duration.zero.seconds, 0)
        XCTAssertEqual(Duration.seconds(3).seconds, 3)
        XCTAssertEqual(Duration.milliseconds(1500).seconds, 1.5)
        XCTAssertEqual(Duration.milliseconds(250).seconds, 0.25)
        XCTAssertEqual(Duration.nanoseconds(1).seconds, 1e-9, accuracy: 1e-18)
        XCTAssertEqual(Duration.seconds(86_400 * 365).seconds, 31_536_000)
    }

    func testDurationMilliseconds() {
        XCTAssertEqual(Duration.zero.milliseconds, 0)
        XCTAssertEqual(Duration.seconds(2).milliseconds, 2000)
        XCTAssertEqual(Duration.milliseconds(1234).milliseconds, 1234)
        XCTAssertEqual(Duration.microseconds(1999).milliseconds, 1, "rounded down")
        XCTAssertEqual(Duration.microseconds(999).milliseconds, 0, "rounded down")
        XCTAssertEqual(Duration.nanoseconds(2_500_000_001).milliseconds, 2500)
        XCTAssertEqual(Duration.seconds(1_000_000).milliseconds, 1_000_000_000)
    }
}
