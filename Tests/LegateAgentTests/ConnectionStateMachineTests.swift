import LegateCore
import LegateWire
import XCTest

@testable import LegateAgent

final class ConnectionStateMachineTests: XCTestCase {
    typealias Machine = ConnectionStateMachine
    typealias Instant = ContinuousClock.Instant

    /// Made-up time origin; every other instant is t0 plus a duration. Nothing sleeps.
    let t0 = ContinuousClock.now
    let interval: Duration = .seconds(10)

    private func ms(_ n: Int64) -> Duration { .milliseconds(n) }
    private func at(_ millis: Int64) -> Instant { t0 + .milliseconds(millis) }

    private func machine(
        missedAcksAllowed: Int = 2, socketRetry: Backoff? = nil, connectTimeout: Duration? = nil
    ) -> Machine {
        Machine(
            configuration: .init(
                heartbeatInterval: interval, missedAcksAllowed: missedAcksAllowed, socketRetry: socketRetry,
                connectTimeout: connectTimeout),
            now: t0)
    }

    /// A machine whose socket connected and was proven at t0 (sequence 1 over HTTP, 2 over the socket).
    private func upMachine(missedAcksAllowed: Int = 2, file: StaticString = #filePath, line: UInt = #line) -> Machine {
        var m = machine(missedAcksAllowed: missedAcksAllowed)
        XCTAssertEqual(m.tick(now: t0, jitter: 0), [.openSocket, .sendHeartbeat(seq: 1, via: .polling)], file: file, line: line)
        XCTAssertEqual(m.socketConnected(now: t0), [.sendHeartbeat(seq: 2, via: .socket)], file: file, line: line)
        XCTAssertEqual(m.heartbeatAcknowledged(seq: 2, now: t0), [.modeChanged(.socket)], file: file, line: line)
        XCTAssertEqual(m.mode, .socket, file: file, line: line)
        return m
    }

    // MARK: Configuration

    func testConfigurationDefaults() {
        let c = Machine.Configuration(heartbeatInterval: .seconds(10))
        XCTAssertEqual(c.missedAcksAllowed, 2)
        XCTAssertEqual(c.connectTimeout, .seconds(10))
        XCTAssertEqual(c.socketRetry, Backoff(initial: .milliseconds(1250), maximum: .seconds(10), jitter: 0.5))
        XCTAssertEqual(Machine.Configuration(heartbeatInterval: .seconds(2)).connectTimeout, .seconds(5), "at least 5 s")
        XCTAssertEqual(Machine.Configuration(heartbeatInterval: .seconds(1), missedAcksAllowed: 0).missedAcksAllowed, 1)
        XCTAssertEqual(Machine.Configuration(heartbeatInterval: .seconds(1), missedAcksAllowed: -5).missedAcksAllowed, 1)
    }

    // MARK: Start

    func testFirstTickOpensSocketAndSendsHTTPHeartbeat() {
        var m = machine()
        XCTAssertEqual(m.mode, .polling)
        XCTAssertFalse(m.polling)
        XCTAssertEqual(m.lastSequence, 0)
        XCTAssertEqual(m.tick(now: t0, jitter: 0), [.openSocket, .sendHeartbeat(seq: 1, via: .polling)])
        XCTAssertEqual(m.lastSequence, 1)
        XCTAssertEqual(m.socket, .connecting(since: t0))
        XCTAssertFalse(m.polling, "polling starts only once a socket has failed")
        // Nothing more until something happens or the next heartbeat is due.
        XCTAssertEqual(m.tick(now: at(100), jitter: 0), [])
        XCTAssertEqual(m.tick(now: at(9_999), jitter: 0), [])
    }

    func testConnectSendsProbationHeartbeatOverSocket() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 0)
        XCTAssertEqual(m.socketConnected(now: at(500)), [.sendHeartbeat(seq: 2, via: .socket)])
        XCTAssertEqual(m.socket, .probation(since: at(500)))
        XCTAssertEqual(m.mode, .polling, "not trusted until acknowledged")
        // A duplicate connected event changes nothing.
        XCTAssertEqual(m.socketConnected(now: at(600)), [])
        XCTAssertEqual(m.lastSequence, 2)
    }

    func testConnectedWithoutOpenIsIgnored() {
        var m = machine()
        XCTAssertEqual(m.socketConnected(now: t0), [])
        XCTAssertEqual(m.lastSequence, 0)
    }

    func testAckProvesSocket() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 0)
        _ = m.socketConnected(now: at(500))
        XCTAssertEqual(m.heartbeatAcknowledged(seq: 2, now: at(700)), [.modeChanged(.socket)])
        XCTAssertEqual(m.mode, .socket)
        XCTAssertEqual(m.socket, .up)
        XCTAssertFalse(m.polling)
        // Further acks are routine.
        XCTAssertEqual(m.heartbeatAcknowledged(seq: 2, now: at(800)), [])
    }

    func testAckWhilePollingStopsPolling() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 1)
        XCTAssertEqual(m.socketFailed(now: at(100), jitter: 1), [.startPolling, .modeChanged(.polling)])
        XCTAssertTrue(m.polling)
        XCTAssertEqual(m.tick(now: at(1_350), jitter: 1), [.openSocket])
        XCTAssertEqual(m.socketConnected(now: at(1_400)), [.sendHeartbeat(seq: 2, via: .socket)])
        XCTAssertTrue(m.polling, "polling continues during probation")
        XCTAssertEqual(m.heartbeatAcknowledged(seq: 2, now: at(1_500)), [.stopPolling, .modeChanged(.socket)])
        XCTAssertFalse(m.polling)
        XCTAssertEqual(m.mode, .socket)
    }

    func testAckWhenNotOnProbationDoesNotChangeMode() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 0)
        XCTAssertEqual(m.heartbeatAcknowledged(seq: 1, now: at(10)), [], "still connecting")
        XCTAssertEqual(m.mode, .polling)
        XCTAssertEqual(m.socket, .connecting(since: t0))
    }

    // MARK: Failures and retry

    func testFailedFirstConnectStartsPollingAndRetriesWithinOneInterval() {
        var m = machine()
        XCTAssertEqual(m.tick(now: t0, jitter: 1), [.openSocket, .sendHeartbeat(seq: 1, via: .polling)])
        let failedAt = at(200)
        XCTAssertEqual(m.socketFailed(now: failedAt, jitter: 1.0), [.startPolling, .modeChanged(.polling)])
        XCTAssertTrue(m.polling)
        XCTAssertEqual(m.mode, .polling)
        // First retry: interval/8 with the largest jitter unit.
        XCTAssertEqual(m.socket, .idle(retryAt: failedAt + ms(1_250)))
        XCTAssertEqual(m.tick(now: failedAt + ms(1_249), jitter: 1), [])
        XCTAssertEqual(m.tick(now: failedAt + ms(1_250), jitter: 1), [.openSocket])
        // A second failure does not announce polling again.
        XCTAssertEqual(m.socketFailed(now: failedAt + ms(1_300), jitter: 1), [])
        XCTAssertTrue(m.polling)
    }

    func testRetryOpensNoLaterThanOneIntervalAfterAnyFailure() {
        var m = machine()
        var now = t0
        _ = m.tick(now: now, jitter: 1)
        for failure in 0..<12 {
            _ = m.socketFailed(now: now, jitter: 1.0)
            let failedAt = now
            var opened = false
            while now <= failedAt + interval {
                now += ms(100)
                if m.tick(now: now, jitter: 1).contains(.openSocket) {
                    opened = true
                    break
                }
            }
            XCTAssertTrue(opened, "failure \(failure): no retry within one interval")
            XCTAssertLessThanOrEqual(now - failedAt, interval, "failure \(failure)")
        }
    }

    func testRetryBackoffGrowsButNeverExceedsInterval() {
        var m = machine()
        var now = t0
        _ = m.tick(now: now, jitter: 1)
        let expected: [Int64] = [1_250, 2_500, 5_000, 10_000, 10_000, 10_000, 10_000]
        var previous: Duration = .zero
        for (i, delay) in expected.enumerated() {
            now += ms(50)
            _ = m.socketFailed(now: now, jitter: 1.0)
            guard case .idle(let retryAt) = m.socket else { return XCTFail("not idle after failure \(i)") }
            let d = retryAt - now
            XCTAssertEqual(d, ms(delay), "failure \(i)")
            XCTAssertGreaterThanOrEqual(d, previous)
            XCTAssertLessThanOrEqual(d, interval)
            previous = d
            XCTAssertFalse(m.tick(now: retryAt - ms(1), jitter: 1).contains(.openSocket), "failure \(i): too early")
            XCTAssertTrue(m.tick(now: retryAt, jitter: 1).contains(.openSocket), "failure \(i): not retried")
            now = retryAt
        }
        // Whatever the jitter, the delay stays within [half, full] of the capped value.
        for unit in [0.0, 0.3, 0.999] {
            now += ms(50)
            _ = m.socketFailed(now: now, jitter: unit)
            guard case .idle(let retryAt) = m.socket else { return XCTFail("not idle") }
            XCTAssertGreaterThanOrEqual(retryAt - now, ms(5_000))
            XCTAssertLessThanOrEqual(retryAt - now, interval)
            _ = m.tick(now: retryAt, jitter: unit)
            now = retryAt
        }
    }

    func testProvenSocketResetsRetryBackoff() {
        var m = machine()
        var now = t0
        _ = m.tick(now: now, jitter: 1)
        // Three failed attempts: the next delay would be 10 s.
        for _ in 0..<3 {
            _ = m.socketFailed(now: now, jitter: 1)
            guard case .idle(let retryAt) = m.socket else { return XCTFail() }
            now = retryAt
            XCTAssertTrue(m.tick(now: now, jitter: 1).contains(.openSocket))
        }
        let connected = m.socketConnected(now: now)
        guard case .sendHeartbeat(let seq, .socket)? = connected.first else { return XCTFail("\(connected)") }
        XCTAssertEqual(m.heartbeatAcknowledged(seq: seq, now: now), [.stopPolling, .modeChanged(.socket)])
        now += ms(3_000)
        XCTAssertEqual(m.socketFailed(now: now, jitter: 1), [.startPolling, .modeChanged(.polling)])
        XCTAssertEqual(m.socket, .idle(retryAt: now + ms(1_250)), "back to the first delay")
    }

    func testFailureWhileIdleIsIgnored() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 0)
        _ = m.socketFailed(now: at(10), jitter: 0)
        let before = m.socket
        XCTAssertEqual(m.socketFailed(now: at(20), jitter: 0), [])
        XCTAssertEqual(m.socket, before, "a second close does not push the retry back")
    }

    func testSocketCloseWhileUpFallsBackToPollingWithImmediateHTTPHeartbeat() {
        var m = upMachine()
        XCTAssertEqual(m.tick(now: at(3_000), jitter: 0), [])
        XCTAssertEqual(m.socketFailed(now: at(3_000), jitter: 0), [.startPolling, .modeChanged(.polling)])
        XCTAssertEqual(m.mode, .polling)
        XCTAssertTrue(m.polling)
        // Next tick: an HTTP heartbeat at once (not waiting for t0 + 10 s), no socket retry yet.
        XCTAssertEqual(m.tick(now: at(3_100), jitter: 0), [.sendHeartbeat(seq: 3, via: .polling)])
        // Retry after interval/8 × 50 % (jitter unit 0).
        XCTAssertEqual(m.socket, .idle(retryAt: at(3_000 + 625)))
        XCTAssertEqual(m.tick(now: at(3_624), jitter: 0), [])
        XCTAssertEqual(m.tick(now: at(3_625), jitter: 0), [.openSocket])
        // The heartbeat schedule continues from the immediate one, over HTTP.
        XCTAssertEqual(m.tick(now: at(13_099), jitter: 0), [])
        XCTAssertEqual(m.tick(now: at(13_100), jitter: 0), [.sendHeartbeat(seq: 4, via: .polling)])
    }

    func testSocketCloseDuringProbationOfFirstSocket() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 0)
        _ = m.socketConnected(now: at(100))
        XCTAssertEqual(m.socketFailed(now: at(200), jitter: 0), [.startPolling, .modeChanged(.polling)])
        XCTAssertEqual(m.mode, .polling)
        XCTAssertTrue(m.polling)
        // No immediate heartbeat: the socket never carried the heartbeats.
        XCTAssertEqual(m.tick(now: at(300), jitter: 0), [])
        // A late ack for the dead socket's heartbeat does not bring it back.
        XCTAssertEqual(m.heartbeatAcknowledged(seq: 2, now: at(400)), [])
        XCTAssertEqual(m.mode, .polling)
    }

    // MARK: Silent sockets

    func testSilentSocketIsClosedAfterTwoHeartbeatsAreAnIntervalOld() {
        var m = upMachine()
        XCTAssertEqual(m.tick(now: at(10_000), jitter: 0), [.sendHeartbeat(seq: 3, via: .socket)])
        XCTAssertEqual(m.tick(now: at(19_999), jitter: 0), [])
        // One heartbeat an interval old is not enough.
        XCTAssertEqual(m.tick(now: at(20_000), jitter: 0), [.sendHeartbeat(seq: 4, via: .socket)])
        XCTAssertEqual(m.tick(now: at(25_000), jitter: 0), [])
        XCTAssertEqual(m.tick(now: at(29_999), jitter: 0), [])
        XCTAssertEqual(m.mode, .socket)
        // Now both 3 (20 s old) and 4 (10 s old) are overdue.
        XCTAssertEqual(
            m.tick(now: at(30_000), jitter: 0),
            [.closeSocket, .startPolling, .modeChanged(.polling), .sendHeartbeat(seq: 5, via: .polling)])
        XCTAssertEqual(m.mode, .polling)
        XCTAssertTrue(m.polling)
        guard case .idle = m.socket else { return XCTFail("socket not idle: \(m.socket)") }
    }

    func testSilentSocketDetectedAtTheRightTickWithFineTicks() {
        var m = upMachine()
        var now = t0
        var closedAt: Instant?
        while now < at(40_000) {
            now += ms(100)
            let actions = m.tick(now: now, jitter: 0)
            if actions.contains(.closeSocket) {
                closedAt = now
                break
            }
        }
        XCTAssertEqual(closedAt, at(30_000))
    }

    func testMissedAcksAllowedIsHonoured() {
        var one = upMachine(missedAcksAllowed: 1)
        XCTAssertEqual(one.tick(now: at(10_000), jitter: 0), [.sendHeartbeat(seq: 3, via: .socket)])
        XCTAssertEqual(one.tick(now: at(19_999), jitter: 0), [])
        XCTAssertEqual(
            one.tick(now: at(20_000), jitter: 0),
            [.closeSocket, .startPolling, .modeChanged(.polling), .sendHeartbeat(seq: 4, via: .polling)])

        var three = upMachine(missedAcksAllowed: 3)
        for (i, t) in [10_000, 20_000, 30_000].enumerated() {
            XCTAssertEqual(three.tick(now: at(Int64(t)), jitter: 0), [.sendHeartbeat(seq: UInt64(3 + i), via: .socket)])
        }
        XCTAssertEqual(three.tick(now: at(39_999), jitter: 0), [])
        XCTAssertEqual(three.tick(now: at(40_000), jitter: 0).first, .closeSocket)
    }

    func testAcksKeepSocketUp() {
        var m = upMachine()
        for i in 1...10 {
            let t = at(Int64(i) * 10_000)
            XCTAssertEqual(m.tick(now: t, jitter: 0), [.sendHeartbeat(seq: UInt64(2 + i), via: .socket)])
            XCTAssertEqual(m.heartbeatAcknowledged(seq: UInt64(2 + i), now: t + ms(50)), [])
        }
        XCTAssertEqual(m.mode, .socket)
    }

    func testAckForOlderSeqClearsOnlyOlderOutstandingHeartbeats() {
        // Ack of 3 leaves 4 outstanding: the socket dies one interval later than without the ack.
        var m = upMachine()
        _ = m.tick(now: at(10_000), jitter: 0)  // seq 3
        _ = m.tick(now: at(20_000), jitter: 0)  // seq 4
        XCTAssertEqual(m.heartbeatAcknowledged(seq: 3, now: at(21_000)), [])
        XCTAssertEqual(m.tick(now: at(30_000), jitter: 0), [.sendHeartbeat(seq: 5, via: .socket)])
        XCTAssertEqual(m.tick(now: at(39_999), jitter: 0), [])
        XCTAssertEqual(
            m.tick(now: at(40_000), jitter: 0),
            [.closeSocket, .startPolling, .modeChanged(.polling), .sendHeartbeat(seq: 6, via: .polling)])
    }

    func testAckForNewerSeqClearsAllOlderOutstandingHeartbeats() {
        var m = upMachine()
        _ = m.tick(now: at(10_000), jitter: 0)  // seq 3
        _ = m.tick(now: at(20_000), jitter: 0)  // seq 4
        // Only 4 is answered (3's ack was lost): both count as answered.
        XCTAssertEqual(m.heartbeatAcknowledged(seq: 4, now: at(21_000)), [])
        XCTAssertEqual(m.tick(now: at(30_000), jitter: 0), [.sendHeartbeat(seq: 5, via: .socket)])
        XCTAssertEqual(m.tick(now: at(40_000), jitter: 0), [.sendHeartbeat(seq: 6, via: .socket)])
        XCTAssertEqual(m.mode, .socket)
        XCTAssertEqual(m.tick(now: at(50_000), jitter: 0).first, .closeSocket)
    }

    // MARK: Probation and connect timeout

    func testProbationWithoutAckIsAbandonedAfterOneInterval() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 1)
        XCTAssertEqual(m.socketFailed(now: t0, jitter: 1), [.startPolling, .modeChanged(.polling)])
        XCTAssertEqual(m.tick(now: at(1_250), jitter: 1), [.openSocket])
        XCTAssertEqual(m.socketConnected(now: at(1_500)), [.sendHeartbeat(seq: 2, via: .socket)])
        XCTAssertTrue(m.polling)
        XCTAssertEqual(m.tick(now: at(11_499), jitter: 1), [])
        // One interval after the upgrade: closed, still polling (no start/mode announcements).
        XCTAssertEqual(m.tick(now: at(11_500), jitter: 1), [.closeSocket, .sendHeartbeat(seq: 3, via: .polling)])
        XCTAssertTrue(m.polling)
        XCTAssertEqual(m.mode, .polling)
        guard case .idle(let retryAt) = m.socket else { return XCTFail("socket not idle: \(m.socket)") }
        XCTAssertEqual(retryAt, at(11_500) + ms(2_500), "second attempt's delay")
    }

    func testProbationOfFirstSocketAbandonedStartsPolling() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 0)
        _ = m.socketConnected(now: at(2_000))
        // The probation heartbeat restarted the schedule: nothing at t0 + 10 s.
        XCTAssertEqual(m.tick(now: at(10_000), jitter: 0), [])
        XCTAssertEqual(m.tick(now: at(11_999), jitter: 0), [])
        XCTAssertEqual(
            m.tick(now: at(12_000), jitter: 0),
            [.closeSocket, .startPolling, .modeChanged(.polling), .sendHeartbeat(seq: 3, via: .polling)])
        XCTAssertTrue(m.polling)
    }

    func testConnectTimeout() {
        var m = machine(connectTimeout: .seconds(3))
        XCTAssertEqual(m.tick(now: t0, jitter: 0), [.openSocket, .sendHeartbeat(seq: 1, via: .polling)])
        XCTAssertEqual(m.tick(now: at(2_999), jitter: 0), [])
        XCTAssertEqual(m.tick(now: at(3_000), jitter: 0), [.closeSocket, .startPolling, .modeChanged(.polling)])
        XCTAssertEqual(m.mode, .polling)
        XCTAssertTrue(m.polling)
        // A connect that completes after the timeout is ignored.
        XCTAssertEqual(m.socketConnected(now: at(3_100)), [])
    }

    func testDefaultConnectTimeoutIsOneInterval() {
        var m = machine()
        _ = m.tick(now: t0, jitter: 0)
        XCTAssertEqual(m.tick(now: at(9_999), jitter: 0), [])
        XCTAssertEqual(
            m.tick(now: at(10_000), jitter: 0),
            [.closeSocket, .startPolling, .modeChanged(.polling), .sendHeartbeat(seq: 2, via: .polling)])
    }

    // MARK: Heartbeat schedule

    func testHeartbeatsEveryIntervalWithIncreasingSeqViaCurrentMode() {
        // Socket retries pushed far out so only heartbeats show.
        let slow = Backoff(initial: .seconds(1000), maximum: .seconds(1000), jitter: 0)
        var m = machine(socketRetry: slow)
        XCTAssertEqual(m.tick(now: t0, jitter: 0), [.openSocket, .sendHeartbeat(seq: 1, via: .polling)])
        XCTAssertEqual(m.socketFailed(now: at(100), jitter: 0), [.startPolling, .modeChanged(.polling)])
        var sent: [ConnectionStateMachine.Action] = []
        var now = at(100)
        while now < at(45_000) {
            now += ms(100)
            sent += m.tick(now: now, jitter: 0)
        }
        XCTAssertEqual(
            sent,
            [
                .sendHeartbeat(seq: 2, via: .polling), .sendHeartbeat(seq: 3, via: .polling),
                .sendHeartbeat(seq: 4, via: .polling), .sendHeartbeat(seq: 5, via: .polling),
            ])
        XCTAssertEqual(m.lastSequence, 5)

        // Once on the socket, the same schedule continues over the socket.
        var up = upMachine()
        var upSent: [ConnectionStateMachine.Action] = []
        now = t0
        while now < at(35_000) {
            now += ms(100)
            upSent += up.tick(now: now, jitter: 0)
            if case .sendHeartbeat(let seq, _)? = upSent.last { _ = up.heartbeatAcknowledged(seq: seq, now: now) }
        }
        XCTAssertEqual(
            upSent,
            [.sendHeartbeat(seq: 3, via: .socket), .sendHeartbeat(seq: 4, via: .socket), .sendHeartbeat(seq: 5, via: .socket)])
    }

    func testLateTickSendsOneHeartbeatAndReschedulesFromNow() {
        let slow = Backoff(initial: .seconds(1000), maximum: .seconds(1000), jitter: 0)
        var m = machine(socketRetry: slow)
        _ = m.tick(now: t0, jitter: 0)
        _ = m.socketFailed(now: t0, jitter: 0)
        // Ticks paused for 35 s: one heartbeat, not three.
        XCTAssertEqual(m.tick(now: at(35_000), jitter: 0), [.sendHeartbeat(seq: 2, via: .polling)])
        XCTAssertEqual(m.tick(now: at(44_999), jitter: 0), [])
        XCTAssertEqual(m.tick(now: at(45_000), jitter: 0), [.sendHeartbeat(seq: 3, via: .polling)])
    }

    // MARK: Session refresh

    private func refreshes(_ actions: [ConnectionStateMachine.Action]) -> Int {
        actions.filter { $0 == .refreshSession }.count
    }

    func testNoRefreshBeforeASessionIsIssued() {
        var m = machine()
        var now = t0
        var count = 0
        while now < at(100_000) {
            count += refreshes(m.tick(now: now, jitter: 0))
            now += ms(500)
        }
        XCTAssertEqual(count, 0)
    }

    func testSessionRefreshAtEightyPercentNotRepeatedWhileInFlight() {
        var m = upMachine()
        m.sessionIssued(now: t0, validFor: .seconds(100))
        XCTAssertEqual(refreshes(m.tick(now: at(79_999), jitter: 0)), 0)
        XCTAssertEqual(refreshes(m.tick(now: at(80_000), jitter: 0)), 1)
        // In flight: not requested again, however long it takes.
        XCTAssertEqual(refreshes(m.tick(now: at(80_100), jitter: 0)), 0)
        XCTAssertEqual(refreshes(m.tick(now: at(95_000), jitter: 0)), 0)
        XCTAssertEqual(refreshes(m.tick(now: at(200_000), jitter: 0)), 0)
    }

    func testSessionRefreshRetriedFiveSecondsAfterFailure() {
        var m = upMachine()
        m.sessionIssued(now: t0, validFor: .seconds(100))
        XCTAssertEqual(refreshes(m.tick(now: at(80_000), jitter: 0)), 1)
        m.sessionRefreshFailed(now: at(82_000))
        XCTAssertEqual(refreshes(m.tick(now: at(86_999), jitter: 0)), 0)
        XCTAssertEqual(refreshes(m.tick(now: at(87_000), jitter: 0)), 1)
        XCTAssertEqual(refreshes(m.tick(now: at(88_000), jitter: 0)), 0)
        // Success: the next refresh is planned from the new session.
        m.sessionIssued(now: at(90_000), validFor: .seconds(50))
        XCTAssertEqual(refreshes(m.tick(now: at(90_100), jitter: 0)), 0)
        XCTAssertEqual(refreshes(m.tick(now: at(129_999), jitter: 0)), 0)
        XCTAssertEqual(refreshes(m.tick(now: at(130_000), jitter: 0)), 1)
    }

    func testRefreshActionComesAfterHeartbeat() {
        let slow = Backoff(initial: .seconds(1000), maximum: .seconds(1000), jitter: 0)
        var m = machine(socketRetry: slow)
        _ = m.tick(now: t0, jitter: 0)
        _ = m.socketFailed(now: t0, jitter: 0)
        m.sessionIssued(now: t0, validFor: .seconds(25))  // refresh at 20 s, together with a heartbeat
        XCTAssertEqual(m.tick(now: at(10_000), jitter: 0), [.sendHeartbeat(seq: 2, via: .polling)])
        XCTAssertEqual(m.tick(now: at(20_000), jitter: 0), [.sendHeartbeat(seq: 3, via: .polling), .refreshSession])
        XCTAssertEqual(m.tick(now: at(20_100), jitter: 0), [])
    }
}
