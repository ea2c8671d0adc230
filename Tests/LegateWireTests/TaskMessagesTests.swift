import Foundation
import LegateWire
import XCTest

final class ShellSpecTests: XCTestCase {
    private func validationError(_ spec: ShellSpec, file: StaticString = #filePath, line: UInt = #line) -> WireError? {
        do {
            try spec.validate()
            XCTFail("\(spec) was accepted", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func testValidSpecs() {
        XCTAssertNoThrow(try ShellSpec(command: ["echo", "hi"]).validate())
        XCTAssertNoThrow(try ShellSpec(script: "echo hi").validate())
        XCTAssertNoThrow(try ShellSpec(script: "echo hi", shell: "/bin/bash", env: ["A": "1", "B_2": ""], workingDirectory: "/tmp").validate())
        // An empty command array next to a script counts as "no command".
        XCTAssertNoThrow(try ShellSpec(command: [], script: "true").validate())
        XCTAssertNoThrow(try ShellSpec(command: ["true"], script: "").validate())
    }

    func testNeitherCommandNorScript() {
        let e = validationError(ShellSpec())
        guard case .invalidField(let what, let field, let reason) = e else { return XCTFail(String(describing: e)) }
        XCTAssertEqual(what, "shell task")
        XCTAssertEqual(field, "command")
        XCTAssertTrue(reason.contains("exactly one"), reason)
        XCTAssertEqual(e?.code, "invalid_field")
        XCTAssertTrue(e?.message.contains("'command'") ?? false, e?.message ?? "")
    }

    func testBothCommandAndScript() {
        let e = validationError(ShellSpec(command: ["ls"], script: "ls"))
        guard case .invalidField(_, let field, _) = e else { return XCTFail(String(describing: e)) }
        XCTAssertEqual(field, "script")
        XCTAssertTrue(e?.message.contains("field 'script'") ?? false, e?.message ?? "")
    }

    func testEmptyCommandArrayIsInvalid() {
        let e = validationError(ShellSpec(command: []))
        guard case .invalidField(_, let field, _) = e else { return XCTFail(String(describing: e)) }
        XCTAssertEqual(field, "command")
        let e2 = validationError(ShellSpec(command: [], script: ""))
        guard case .invalidField(_, let field2, _) = e2 else { return XCTFail(String(describing: e2)) }
        XCTAssertEqual(field2, "command")
    }

    func testInvalidEnvNames() {
        for bad in ["", "A=B", "=", "NUL\0NAME"] {
            let e = validationError(ShellSpec(command: ["env"], env: [bad: "x"]))
            guard case .invalidField(_, let field, let reason) = e else {
                XCTFail("\(bad.debugDescription): \(String(describing: e))")
                continue
            }
            XCTAssertEqual(field, "env")
            XCTAssertTrue(reason.contains("'\(bad)'"), reason)
            XCTAssertTrue(e?.message.contains("field 'env'") ?? false, e?.message ?? "")
        }
        // A valid name next to an invalid one still fails.
        XCTAssertNotNil(validationError(ShellSpec(script: "true", env: ["GOOD": "1", "BAD=": "2"])))
    }
}

final class WireCodingTests: XCTestCase {
    private struct Wrapper: Codable, Equatable {
        var shell: ShellSpec
    }

    private func decodeError<T: Decodable>(_ type: T.Type, _ json: String, what: String = "task", file: StaticString = #filePath, line: UInt = #line) -> WireError? {
        do {
            let v = try WireCoding.decode(type, from: Data(json.utf8), what: what)
            XCTFail("decoded \(v)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func testTypeMismatchNamesTheFieldPath() {
        let e = decodeError(Wrapper.self, #"{"shell":{"command":"echo hi"}}"#)
        guard case .malformed(let what, let detail) = e else { return XCTFail(String(describing: e)) }
        XCTAssertEqual(what, "task")
        XCTAssertTrue(detail.contains("'shell.command'"), detail)
        XCTAssertTrue(detail.contains("wrong type"), detail)
        XCTAssertEqual(e?.code, "bad_request")
    }

    func testTypeMismatchInsideArrayNamesTheIndex() {
        let e = decodeError(Wrapper.self, #"{"shell":{"command":["echo",7]}}"#)
        guard case .malformed(_, let detail) = e else { return XCTFail(String(describing: e)) }
        XCTAssertTrue(detail.contains("shell.command.[1]"), detail)
    }

    func testMissingFieldNamesTheFieldPath() {
        let e = decodeError(TaskPackage.self, #"{"taskId":"t_1","attempt":1,"type":"shell"}"#)
        guard case .malformed(_, let detail) = e else { return XCTFail(String(describing: e)) }
        XCTAssertEqual(detail, "missing field 'timeoutMs'")

        let nested = decodeError(LogBatch.self, #"{"attempt":1,"entries":[{"seq":1,"stream":"stdout","at":0}]}"#)
        guard case .malformed(_, let nestedDetail) = nested else { return XCTFail(String(describing: nested)) }
        XCTAssertTrue(nestedDetail.contains("entries.[0].data"), nestedDetail)
    }

    func testNullFieldIsNamed() {
        let e = decodeError(TaskPackage.self, #"{"taskId":null,"attempt":1,"type":"shell","timeoutMs":1}"#)
        guard case .malformed(_, let detail) = e else { return XCTFail(String(describing: e)) }
        XCTAssertTrue(detail.contains("taskId"), detail)
    }

    func testInvalidEnumValueNamesTheField() {
        let e = decodeError(LogEntry.self, #"{"seq":1,"stream":"stdin","data":"x","at":0}"#)
        guard case .malformed(_, let detail) = e else { return XCTFail(String(describing: e)) }
        XCTAssertTrue(detail.contains("stream"), detail)
    }

    func testInvalidJSON() {
        let e = decodeError(TaskPackage.self, "{nope")
        XCTAssertEqual(e, .malformed(what: "task", detail: "body is not valid JSON"))
    }

    func testBodyOverMaxMessageBytesIsRejected() {
        let padding = String(repeating: " ", count: WireProtocol.maxMessageBytes)
        let json = #"{"delegateId":"d_1"}"# + padding
        let size = json.utf8.count
        let e = decodeError(AcquireRequest.self, json, what: "acquire request")
        XCTAssertEqual(e, .payloadTooLarge(what: "acquire request", size: size, limit: WireProtocol.maxMessageBytes))
        XCTAssertTrue(e?.message.contains("\(WireProtocol.maxMessageBytes)") ?? false)
    }

    func testBodyAtMaxMessageBytesIsAccepted() throws {
        let head = #"{"delegateId":"d_1"}"#
        let json = head + String(repeating: " ", count: WireProtocol.maxMessageBytes - head.utf8.count)
        XCTAssertEqual(json.utf8.count, WireProtocol.maxMessageBytes)
        XCTAssertEqual(try WireCoding.decode(AcquireRequest.self, from: Data(json.utf8), what: "x"), AcquireRequest(delegateId: "d_1"))
    }

    // MARK: Round trips

    func testTaskResultRoundTrip() throws {
        // Whole milliseconds, so the round trip through a millisecond encoding is exact.
        let started = Date(timeIntervalSince1970: 1_764_000_000.125)
        let finished = Date(timeIntervalSince1970: 1_764_000_042.5)
        for r in [
            TaskResult(attempt: 2, outcome: .failed, exitCode: 3, message: "exit 3", startedAt: started, finishedAt: finished, logEntries: 17),
            TaskResult(attempt: 1, outcome: .timedOut, exitCode: nil, message: nil, startedAt: started, finishedAt: finished, logEntries: 0),
        ] {
            let data = try WireCoding.encode(r)
            XCTAssertEqual(try WireCoding.decode(TaskResult.self, from: data, what: "result"), r)
        }
    }

    func testTaskOutcomeStrings() throws {
        let r = TaskResult(
            attempt: 1, outcome: .timedOut, exitCode: nil, message: nil, startedAt: Date(timeIntervalSince1970: 0),
            finishedAt: Date(timeIntervalSince1970: 1), logEntries: 0)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: try WireCoding.encode(r)) as? [String: Any])
        XCTAssertEqual(obj["outcome"] as? String, "timedOut")
        XCTAssertNil(obj["exitCode"])
    }

    func testTaskPackageRoundTrip() throws {
        let packages = [
            TaskPackage(
                taskId: "t_4be1c0d29a7f3e18", attempt: 1, type: "shell", timeoutMs: 600_000,
                shell: ShellSpec(command: ["make", "deploy"], env: ["STAGE": "prod"], workingDirectory: "/srv/app")),
            TaskPackage(
                taskId: "t_2", attempt: 3, type: "shell", timeoutMs: 1,
                shell: ShellSpec(script: "echo 'a/b' \"q\"\n", shell: "/bin/bash")),
            TaskPackage(taskId: "t_3", attempt: 1, type: "other", timeoutMs: 5, shell: nil),
        ]
        for p in packages {
            let data = try WireCoding.encode(p)
            XCTAssertEqual(try WireCoding.decode(TaskPackage.self, from: data, what: "task"), p)
        }
    }

    func testRegisterRequestRoundTripAndDefaults() throws {
        let r = RegisterRequest(
            name: "build-01", hostname: "build-01.example", version: "0.1.0", tags: ["linux", "pool-a"], capacity: 8,
            supportedTaskTypes: ["shell"], instanceId: "i_0123456789abcdef")
        XCTAssertEqual(r.protocolVersion, WireProtocol.version)
        XCTAssertNil(r.delegateId)
        let data = try WireCoding.encode(r)
        XCTAssertEqual(try WireCoding.decode(RegisterRequest.self, from: data, what: "register"), r)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(obj["protocolVersion"] as? Int, 1)

        var again = r
        again.delegateId = "d_8c1e5a2f90b34d71"
        XCTAssertEqual(try WireCoding.decode(RegisterRequest.self, from: try WireCoding.encode(again), what: "register"), again)
    }

    func testDatesEncodeAsMillisecondsSinceEpoch() throws {
        let entry = LogEntry(seq: 1, stream: .stdout, data: "hi\n", at: Date(timeIntervalSince1970: 1_764_000_000))
        let text = String(decoding: try WireCoding.encode(entry), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix(#"{"at":1764000000000,"#), text)

        let result = TaskResult(
            attempt: 1, outcome: .succeeded, exitCode: 0, message: nil, startedAt: Date(timeIntervalSince1970: 1.5),
            finishedAt: Date(timeIntervalSince1970: 2), logEntries: 0)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: try WireCoding.encode(result)) as? [String: Any])
        XCTAssertEqual((obj["startedAt"] as? NSNumber)?.int64Value, 1500)
        XCTAssertEqual((obj["finishedAt"] as? NSNumber)?.int64Value, 2000)
    }

    func testDatesDecodeFromMilliseconds() throws {
        let json = #"{"sessionToken":"lst_x.y","sessionExpiresAt":1764000000250}"#
        let s = try WireCoding.decode(SessionResponse.self, from: Data(json.utf8), what: "session")
        XCTAssertEqual(s.sessionExpiresAt.timeIntervalSince1970, 1_764_000_000.25, accuracy: 0.0005)
    }

    func testEncoderSortsKeysAndKeepsSlashes() throws {
        let text = String(decoding: try WireCoding.encode(ShellSpec(script: "a", shell: "/bin/sh")), as: UTF8.self)
        XCTAssertEqual(text, #"{"script":"a","shell":"/bin/sh"}"#)
    }

    func testErrorBodyShape() throws {
        let text = String(decoding: try WireCoding.encode(ErrorBody(code: "task_taken", message: "gone")), as: UTF8.self)
        XCTAssertEqual(text, #"{"error":{"code":"task_taken","message":"gone"}}"#)
    }
}
