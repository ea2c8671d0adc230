import Foundation
import HTTPTypes
import LegateAgent
import LegateCore
import LegateManager
import LegateWire
import Logging
import NIOSSL
import WSClient
import XCTest

/// Bad input from either side gets a clear error naming the problem, and the peer keeps running.
final class BadInputTests: XCTestCase {
    func testMalformedOversizedAndUnauthorizedRequestsGetClearErrorsAndTheManagerKeepsServing() async throws {
        try await withManager { m in
            let api = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await api.shutdown() } }
            let token = try await m.token("bad-input")
            let register = WireProtocol.apiPrefix + "/delegates/register"

            func expect(_ status: Int, _ code: String, _ fragment: String, _ r: (Int, Data), file: StaticString = #filePath, line: UInt = #line) throws {
                let body = try WireCoding.decoder().decode(ErrorBody.self, from: r.1)
                XCTAssertEqual(r.0, status, file: file, line: line)
                XCTAssertEqual(body.error.code, code, file: file, line: line)
                XCTAssertTrue(body.error.message.contains(fragment), "\(body.error.message) lacks '\(fragment)'", file: file, line: line)
            }

            try expect(400, "bad_request", "not valid JSON", try await api.raw(.POST, register, body: Data("{not json".utf8), auth: token.token))
            try expect(400, "bad_request", "missing field 'name'", try await api.raw(.POST, register, body: Data(#"{"protocolVersion":1}"#.utf8), auth: token.token))
            var req = RegisterRequest(name: "x", hostname: "h", version: "0", tags: [], capacity: 1, supportedTaskTypes: ["shell"], instanceId: "i")
            req.protocolVersion = 2
            try expect(400, "unsupported_protocol_version", "v1", try await api.raw(.POST, register, body: try WireCoding.encode(req), auth: token.token))
            req.protocolVersion = 1
            req.capacity = 0
            try expect(400, "invalid_field", "capacity", try await api.raw(.POST, register, body: try WireCoding.encode(req), auth: token.token))
            let huge = Data(repeating: UInt8(ascii: "a"), count: WireProtocol.maxMessageBytes + 10)
            try expect(413, "payload_too_large", "limit", try await api.raw(.POST, register, body: huge, auth: token.token))
            try expect(401, "unauthorized", "legate-manager token create", try await api.raw(.POST, register, body: Data("{}".utf8), auth: "lgt_tok_0000.nope"))
            try expect(401, "unauthorized", "legate-manager token create", try await api.raw(.POST, register, body: Data("{}".utf8), auth: "garbage"))

            // A valid session used for another delegate's path, and no session at all.
            req.capacity = 1
            let (_, regData) = try await api.raw(.POST, register, body: try WireCoding.encode(req), auth: token.token)
            let reg = try WireCoding.decoder().decode(RegisterResponse.self, from: regData)
            let hb = try WireCoding.encode(Heartbeat(seq: 1, running: 0, capacity: 1, runningTaskIds: [], mode: .polling, draining: false))
            try expect(403, "forbidden", "another delegate", try await api.raw(.POST, WireProtocol.apiPrefix + "/delegates/d_other/heartbeat", body: hb, auth: reg.sessionToken))
            try expect(401, "session_invalid", "register again", try await api.raw(.POST, WireProtocol.apiPrefix + "/delegates/\(reg.delegateId)/heartbeat", body: hb, auth: "lst_forged.sig"))
            let ok = try await api.raw(.POST, WireProtocol.apiPrefix + "/delegates/\(reg.delegateId)/heartbeat", body: Data(#"{"seq":5,"running":0,"capacity":1}"#.utf8), auth: reg.sessionToken)
            XCTAssertEqual(ok.0, 200, String(decoding: ok.1, as: UTF8.self))
            try expect(404, "task_not_found", "t_missing", try await api.raw(
                .POST, WireProtocol.apiPrefix + "/tasks/t_missing/acquire", body: try WireCoding.encode(AcquireRequest(delegateId: reg.delegateId)), auth: reg.sessionToken))

            // Admin API input checks.
            let both = try WireCoding.encode(CreateTaskRequest(shell: ShellSpec(command: ["ls"], script: "ls")))
            try expect(400, "invalid_field", "exactly one of 'command'", try await api.raw(.POST, WireProtocol.apiPrefix + "/admin/tasks", body: both))
            let badSelector = try WireCoding.encode(CreateTaskRequest(shell: ShellSpec(script: "ls"), selectors: ["has space"]))
            try expect(400, "invalid_field", "has space", try await api.raw(.POST, WireProtocol.apiPrefix + "/admin/tasks", body: badSelector))
            try expect(400, "invalid_field", "Unknown status 'nope'", try await api.raw(.GET, WireProtocol.apiPrefix + "/admin/tasks?status=nope"))
            try expect(401, "unauthorized", "admin.key", try await api.raw(.GET, WireProtocol.apiPrefix + "/admin/tasks", auth: token.token))
            try expect(404, "not_found", "token list", try await api.raw(.DELETE, WireProtocol.apiPrefix + "/admin/tokens/key_nope"))

            let health = try await api.raw(.GET, WireProtocol.apiPrefix + "/health")
            XCTAssertEqual(health.0, 200)
        }
    }

    func testStreamAnswersUnknownTypesAndGarbageWithErrorsAndClosesOversizedFrames() async throws {
        try await withManager { m in
            let api = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await api.shutdown() } }
            let token = try await m.token("ws")
            let req = RegisterRequest(name: "ws", hostname: "h", version: "0", tags: [], capacity: 1, supportedTaskTypes: ["shell"], instanceId: "i")
            let (_, data) = try await api.raw(.POST, WireProtocol.apiPrefix + "/delegates/register", body: try WireCoding.encode(req), auth: token.token)
            let reg = try WireCoding.decoder().decode(RegisterResponse.self, from: data)
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(m.caFile))]
            var headers = HTTPFields()
            headers[.authorization] = "Bearer " + reg.sessionToken
            let url = "wss://localhost:\(m.port)\(WireProtocol.apiPrefix)/delegates/\(reg.delegateId)/stream"
            let config = WebSocketClientConfiguration(maxFrameSize: 1 << 20, additionalHeaders: headers)
            let logger = Logger(label: "ws-test")

            let replies: [StreamMessage] = try await {
                let collected = LockedBox<[StreamMessage]>([])
                let close = try await WebSocketClient.connect(url: url, configuration: config, tlsConfiguration: tls, logger: logger) { inbound, outbound, _ in
                    var it = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    func next() async throws -> StreamMessage? {
                        guard let m = try await it.next(), case .text(let t) = m else { return nil }
                        let msg = try StreamMessage.parse(t)
                        collected.mutate { $0.append(msg) }
                        return msg
                    }
                    _ = try await next()  // hello
                    try await outbound.write(.text(#"{"v":1,"type":"bogus.kind"}"#))
                    _ = try await next()
                    try await outbound.write(.text("this is not json"))
                    _ = try await next()
                    try await outbound.write(.binary(.init(bytes: [1, 2, 3])))
                    _ = try await next()
                    try await outbound.write(.text(StreamMessage.heartbeat(Heartbeat(seq: 9, running: 0, capacity: 1, runningTaskIds: [], mode: .socket, draining: false)).text()))
                    _ = try await next()
                    // Over the manager's frame limit: it must close the stream.
                    try await outbound.write(.text(String(repeating: "x", count: WireProtocol.maxFrameBytes * 2)))
                    while try await it.next() != nil {}
                }
                XCTAssertEqual(close?.closeCode, .messageTooLarge)
                return collected.value
            }()
            XCTAssertEqual(replies.count, 5, "\(replies)")
            guard replies.count == 5 else { return }
            XCTAssertEqual(replies[0], .hello(heartbeatIntervalMs: 1000))
            guard case .error(let c1, let m1) = replies[1], case .error(let c2, let m2) = replies[2], case .error(let c3, _) = replies[3] else {
                return XCTFail("expected three errors: \(replies)")
            }
            XCTAssertEqual(c1, "unknown_message_type")
            XCTAssertTrue(m1.contains("bogus.kind"), m1)
            XCTAssertEqual(c2, "bad_request")
            XCTAssertTrue(m2.contains("not valid JSON"), m2)
            XCTAssertEqual(c3, "bad_request")
            XCTAssertEqual(replies[4], .heartbeatAck(HeartbeatAck(seq: 9)))

            let health = try await api.raw(.GET, WireProtocol.apiPrefix + "/health")
            XCTAssertEqual(health.0, 200)
        }
    }

    func testAgentRefusesAnUntrustedServerCertificateWithAnActionableError() async throws {
        try await withManager { m in
            let (_, tokenFile) = try await m.tokenFile("untrusting")
            var c = AgentConfiguration()
            c.managerURL = m.url
            c.tokenFile = tokenFile
            c.name = "untrusting"
            let service = AgentService(configuration: try c.validated(), logger: Logger(label: "t"))
            do {
                try await service.run()
                XCTFail("connected without trusting the CA")
            } catch let e as ClientError {
                XCTAssertEqual(e.kind, .tls)
                XCTAssertTrue(e.message.contains("ca_file"), e.message)
                XCTAssertTrue(e.message.contains("localhost:\(m.port)"), e.message)
            }
        }
    }

    func testAgentBinaryExplainsBadTokensBadURLsAndBadConfig() async throws {
        try await withManager { m in
            let dir = Harness.tempDir("legate-badcfg")
            try FileIO.write("lgt_tok_0123456789abcdef.wrong", to: dir + "/bad.token", mode: 0o600)
            let wrong = try ChildProcess(
                "legate", ["run", "--manager-url", m.url, "--token-file", dir + "/bad.token", "--ca-file", m.caFile], logPath: dir + "/wrong.log")
            let wrongStatus = await wrong.wait()
            XCTAssertEqual(wrongStatus, 1, wrong.output)
            XCTAssertTrue(wrong.output.contains("delegate token is not valid"), wrong.output)
            XCTAssertFalse(wrong.output.contains("wrong"), "the token value leaked: \(wrong.output)")

            let http = try ChildProcess(
                "legate", ["run", "--manager-url", "http://manager.example.com:8080", "--token-file", dir + "/bad.token"], logPath: dir + "/http.log")
            let httpStatus = await http.wait()
            XCTAssertEqual(httpStatus, 1)
            XCTAssertTrue(http.output.contains("Refusing plain http://"), http.output)

            try FileIO.write("manager_url: https://localhost:1\ntokn_file: /x\n", to: dir + "/typo.yaml", mode: 0o600)
            let typo = try ChildProcess("legate", ["run", "--config", dir + "/typo.yaml"], logPath: dir + "/typo.log")
            let typoStatus = await typo.wait()
            XCTAssertEqual(typoStatus, 1)
            XCTAssertTrue(typo.output.contains("unknown key 'tokn_file'"), typo.output)
        }
    }
}

/// A tiny lock-protected box for collecting values from concurrent closures in tests.
final class LockedBox<T: Sendable>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ v: T) { stored = v }
    var value: T { lock.withLock { stored } }
    func mutate(_ f: (inout T) -> Void) { lock.withLock { f(&stored) } }
}
