import Foundation
import LegateWire
import XCTest

final class StreamMessageTests: XCTestCase {
    static let allCases: [(StreamMessage, String)] = [
        (.hello(heartbeatIntervalMs: 10_000), "hello"),
        (.taskNotice(taskId: "t_4be1c0d29a7f3e18"), "task.notice"),
        (.taskAbort(taskId: "t_0000000000000001"), "task.abort"),
        (.drain(reason: "maintenance window"), "drain"),
        (.drain(reason: ""), "drain"),
        (
            .heartbeat(
                Heartbeat(
                    seq: 42, running: 1, capacity: 8, runningTaskIds: ["t_4be1c0d29a7f3e18"], mode: .socket,
                    draining: false)), "heartbeat"
        ),
        (
            .heartbeat(
                Heartbeat(seq: .max, running: 0, capacity: 1, runningTaskIds: [], mode: .polling, draining: true)),
            "heartbeat"
        ),
        (.heartbeatAck(HeartbeatAck(seq: 42)), "heartbeat.ack"),
        (.heartbeatAck(HeartbeatAck(seq: 7, abortTaskIds: ["t_a", "t_b"])), "heartbeat.ack"),
        (.error(code: "unknown_message_type", message: "Unknown message type 'foo'. \"quoted\" / slash"), "error"),
    ]

    private func object(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(json as? [String: Any], file: file, line: line)
    }

    private func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> WireError? {
        do {
            let m = try StreamMessage.parse(text)
            XCTFail("parsed as \(m)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Round trips and encoding

    func testEveryCaseRoundTrips() throws {
        for (message, _) in Self.allCases {
            let text = message.text()
            XCTAssertEqual(try StreamMessage.parse(text), message, text)
        }
    }

    func testEncodedJSONHasVersionAndDocumentedType() throws {
        for (message, type) in Self.allCases {
            let text = message.text()
            let obj = try object(text)
            XCTAssertEqual(obj["v"] as? Int, 1, text)
            XCTAssertEqual(obj["type"] as? String, type, text)
            XCTAssertEqual(message.type, type)
            XCTAssertTrue(text.contains(#""v":1"#), text)
            XCTAssertTrue(text.contains(#""type":"\#(type)""#), text)
        }
    }

    func testEncodedFieldsAreFlatAndSorted() throws {
        XCTAssertEqual(
            StreamMessage.hello(heartbeatIntervalMs: 10000).text(), #"{"heartbeatIntervalMs":10000,"type":"hello","v":1}"#)
        XCTAssertEqual(
            StreamMessage.taskNotice(taskId: "t_4be1c0d29a7f3e18").text(),
            #"{"taskId":"t_4be1c0d29a7f3e18","type":"task.notice","v":1}"#)
        XCTAssertEqual(
            StreamMessage.heartbeat(
                Heartbeat(seq: 42, running: 1, capacity: 8, runningTaskIds: ["t_4be1c0d29a7f3e18"], mode: .socket, draining: false)
            ).text(),
            #"{"capacity":8,"draining":false,"mode":"socket","running":1,"runningTaskIds":["t_4be1c0d29a7f3e18"],"seq":42,"type":"heartbeat","v":1}"#
        )
        XCTAssertEqual(
            StreamMessage.heartbeatAck(HeartbeatAck(seq: 42)).text(), #"{"abortTaskIds":[],"seq":42,"type":"heartbeat.ack","v":1}"#)
        let err = try object(StreamMessage.error(code: "c", message: "m").text())
        XCTAssertEqual(err["code"] as? String, "c")
        XCTAssertEqual(err["message"] as? String, "m")
        let drain = try object(StreamMessage.drain(reason: "r").text())
        XCTAssertEqual(drain["reason"] as? String, "r")
    }

    func testMissingVersionIsReadAsOne() throws {
        XCTAssertEqual(try StreamMessage.parse(#"{"type":"task.notice","taskId":"t_1"}"#), .taskNotice(taskId: "t_1"))
    }

    // MARK: Errors

    func testUnknownTypeIsRejectedNamingTheType() {
        let e = parseError(#"{"v":1,"type":"task.teleport","taskId":"t_1"}"#)
        XCTAssertEqual(e, .unknownMessageType("task.teleport"))
        XCTAssertEqual(e?.code, "unknown_message_type")
        XCTAssertTrue(e?.message.contains("'task.teleport'") ?? false, e?.message ?? "")
    }

    func testUnknownTypeIsTruncatedTo64Characters() {
        let long = String(repeating: "x", count: 200)
        let e = parseError(#"{"v":1,"type":"\#(long)"}"#)
        XCTAssertEqual(e, .unknownMessageType(String(repeating: "x", count: 64)))
    }

    func testOtherVersionIsUnsupported() {
        XCTAssertEqual(parseError(#"{"v":2,"type":"hello","heartbeatIntervalMs":1}"#), .unsupportedVersion(2))
        XCTAssertEqual(parseError(#"{"v":0,"type":"task.notice","taskId":"t"}"#), .unsupportedVersion(0))
        let e = parseError(#"{"v":2,"type":"no.such.type"}"#)
        XCTAssertEqual(e, .unsupportedVersion(2), "version is checked before the type")
        XCTAssertEqual(e?.code, "unsupported_protocol_version")
        XCTAssertTrue(e?.message.contains("2") ?? false)
    }

    func testFrameOverLimitIsTooLarge() {
        let padding = String(repeating: "a", count: WireProtocol.maxFrameBytes)
        let text = #"{"v":1,"type":"task.notice","taskId":"t_1","pad":"\#(padding)"}"#
        let size = Data(text.utf8).count
        XCTAssertGreaterThan(size, WireProtocol.maxFrameBytes)
        let e = parseError(text)
        XCTAssertEqual(e, .payloadTooLarge(what: "stream frame", size: size, limit: WireProtocol.maxFrameBytes))
        XCTAssertEqual(e?.code, "payload_too_large")
    }

    func testFrameAtLimitIsAccepted() throws {
        let head = #"{"v":1,"type":"task.notice","taskId":"t_1","pad":""#
        let tail = #""}"#
        let padding = String(repeating: "a", count: WireProtocol.maxFrameBytes - head.utf8.count - tail.utf8.count)
        let text = head + padding + tail
        XCTAssertEqual(text.utf8.count, WireProtocol.maxFrameBytes)
        XCTAssertEqual(try StreamMessage.parse(text), .taskNotice(taskId: "t_1"))
    }

    func testFrameLimitCountsBytesNotCharacters() {
        // 30 000 three-byte characters: 90 000 bytes, well under 64 Ki characters.
        let padding = String(repeating: "\u{20AC}", count: 30_000)
        let text = #"{"v":1,"type":"task.notice","taskId":"t_1","pad":"\#(padding)"}"#
        XCTAssertLessThan(text.count, WireProtocol.maxFrameBytes)
        guard case .payloadTooLarge = parseError(text) else {
            return XCTFail("expected payloadTooLarge")
        }
    }

    func testMalformedJSON() {
        for bad in ["{", "not json", "", #"{"v":1,"type":"hello""#, "[1,2"] {
            let e = parseError(bad)
            guard case .malformed(let what, let detail) = e else {
                XCTFail("\(bad): \(String(describing: e))")
                continue
            }
            XCTAssertEqual(what, "stream message")
            XCTAssertTrue(detail.contains("not valid JSON"), detail)
            XCTAssertEqual(e?.code, "bad_request")
            XCTAssertTrue(e?.message.contains("not valid JSON") ?? false)
        }
    }

    func testMissingFieldIsNamed() {
        let e = parseError(#"{"v":1,"type":"task.notice"}"#)
        guard case .malformed(_, let detail) = e else { return XCTFail(String(describing: e)) }
        XCTAssertTrue(detail.contains("'taskId'"), detail)
        XCTAssertTrue(e?.message.contains("taskId") ?? false)

        let e2 = parseError(#"{"v":1,"type":"heartbeat","seq":1,"running":0}"#)
        XCTAssertTrue(e2?.message.contains("'capacity'") ?? false, e2?.message ?? "")

        let e3 = parseError(#"{"v":1,"taskId":"t"}"#)
        XCTAssertTrue(e3?.message.contains("'type'") ?? false, e3?.message ?? "")
    }

    func testWrongTypeIsNamed() {
        let e = parseError(#"{"v":1,"type":"hello","heartbeatIntervalMs":"soon"}"#)
        guard case .malformed(_, let detail) = e else { return XCTFail(String(describing: e)) }
        XCTAssertTrue(detail.contains("heartbeatIntervalMs"), detail)
        XCTAssertTrue(detail.contains("wrong type"), detail)
    }

    func testNotAnObjectIsRejected() {
        guard case .malformed = parseError("[]") else { return XCTFail() }
        guard case .malformed = parseError("42") else { return XCTFail() }
    }

    func testUnknownFieldsAreIgnored() throws {
        XCTAssertEqual(
            try StreamMessage.parse(#"{"v":1,"type":"task.notice","taskId":"t_1","priority":9,"extra":{"a":[1,2]}}"#),
            .taskNotice(taskId: "t_1"))
        XCTAssertEqual(
            try StreamMessage.parse(#"{"v":1,"type":"heartbeat.ack","seq":3,"abortTaskIds":["t"],"future":null}"#),
            .heartbeatAck(HeartbeatAck(seq: 3, abortTaskIds: ["t"])))
    }

    // MARK: Defaults

    func testHeartbeatDefaults() throws {
        let m = try StreamMessage.parse(#"{"v":1,"type":"heartbeat","seq":5,"running":2,"capacity":4}"#)
        XCTAssertEqual(
            m, .heartbeat(Heartbeat(seq: 5, running: 2, capacity: 4, runningTaskIds: [], mode: .socket, draining: false)))
    }

    func testOtherOptionalFieldDefaults() throws {
        XCTAssertEqual(try StreamMessage.parse(#"{"v":1,"type":"drain"}"#), .drain(reason: ""))
        XCTAssertEqual(try StreamMessage.parse(#"{"v":1,"type":"heartbeat.ack","seq":9}"#), .heartbeatAck(HeartbeatAck(seq: 9)))
        XCTAssertEqual(try StreamMessage.parse(#"{"v":1,"type":"error","code":"x"}"#), .error(code: "x", message: ""))
    }

    func testHTTPHeartbeatDecodesWithDefaults() throws {
        let data = Data(#"{"seq":3,"running":1,"capacity":8}"#.utf8)
        let hb = try WireCoding.decode(Heartbeat.self, from: data, what: "heartbeat")
        XCTAssertEqual(hb.seq, 3)
        XCTAssertEqual(hb.running, 1)
        XCTAssertEqual(hb.capacity, 8)
        XCTAssertEqual(hb.runningTaskIds, [])
        XCTAssertEqual(hb.draining, false)
        // Over HTTP the agent is polling.
        XCTAssertEqual(hb.mode, .polling)
    }

    func testHTTPHeartbeatFullRoundTripAndMissingRequired() throws {
        let hb = Heartbeat(seq: 9, running: 2, capacity: 3, runningTaskIds: ["t_1", "t_2"], mode: .socket, draining: true)
        XCTAssertEqual(try WireCoding.decode(Heartbeat.self, from: try WireCoding.encode(hb), what: "heartbeat"), hb)
        XCTAssertThrowsError(
            try WireCoding.decode(Heartbeat.self, from: Data(#"{"seq":3,"capacity":8}"#.utf8), what: "heartbeat")
        ) { error in
            XCTAssertTrue((error as? WireError)?.message.contains("'running'") ?? false, "\(error)")
        }
        XCTAssertThrowsError(
            try WireCoding.decode(Heartbeat.self, from: Data(#"{"seq":3,"running":0,"capacity":8,"mode":"carrier-pigeon"}"#.utf8), what: "heartbeat")
        ) { error in
            XCTAssertTrue((error as? WireError)?.message.contains("mode") ?? false, "\(error)")
        }
    }

    func testNoticeBatchCarriesFullStreamMessages() throws {
        let batch = NoticeBatch(notices: [.taskNotice(taskId: "t_1"), .taskAbort(taskId: "t_2")])
        let data = try WireCoding.encode(batch)
        XCTAssertEqual(try WireCoding.decode(NoticeBatch.self, from: data, what: "notices"), batch)
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(text.contains(#"{"taskId":"t_1","type":"task.notice","v":1}"#), text)
    }
}
