import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import LegateBench
import LegateCore
import LegateManager
import Logging
import NIOCore
import ProviderAWS
import ServiceLifecycle
import Synchronization
import XCTest

/// What Tests/Peers/moto_fixture.py created in moto before it turned signature checking on.
struct MotoFixture: Decodable, Sendable {
    struct Session: Decodable, Sendable {
        var AccessKeyId: String
        var SecretAccessKey: String
        var Token: String
        var Expiration: String
    }

    var region: String
    var accessKeyId: String
    var secretAccessKey: String
    var deniedAccessKeyId: String
    var deniedSecretAccessKey: String
    var roleArn: String
    var externalId: String
    var keyId: String
    var keyArn: String
    var keyAlias: String
    var secondKeyArn: String
    var disabledKeyArn: String
    var session: Session
}

enum Peers {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Where scripts/install-peers put moto_server and the fixture's Python.
    static var bin: String {
        ProcessInfo.processInfo.environment["LEGATE_PEERS_BIN"] ?? root.appendingPathComponent(".venv-peers/bin").path
    }

    static func require(_ tool: String) throws -> String {
        let path = bin + "/" + tool
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("\(path) is missing: run scripts/install-peers (scripts/test does it)")
            throw CancellationError()
        }
        return path
    }

    /// Runs a command to completion and returns its stdout (stderr goes to a log file).
    static func run(_ argv: [String], env: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let dir = Harness.tempDir("legate-peer-run")
        let out = dir + "/out", err = dir + "/err"
        let o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let e = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer {
            close(o)
            close(e)
        }
        var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        for (k, v) in env { environment[k] = v }
        let pid = try ProcessSpawner.spawn(argv: argv, environment: environment, stdout: o, stderr: e)
        var status: Int32?
        while status == nil {
            status = ProcessSpawner.exitStatus(of: pid)
            if status == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        if status != 0 {
            let errText = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            print("\(argv.joined(separator: " ")) exited \(status ?? -1): \(errText.suffix(2000))")
        }
        return (status ?? -1, text)
    }
}

/// moto_server on a free loopback port, prepared by the fixture and with signature checking on.
/// Stopped by PID when the test ends.
final class MotoServer: Sendable {
    let peer: MotoPeer
    let fixture: MotoFixture
    var url: String { peer.url }

    private init(peer: MotoPeer, fixture: MotoFixture) {
        self.peer = peer
        self.fixture = fixture
    }

    static func start() async throws -> MotoServer {
        let peer: MotoPeer
        do {
            peer = try await MotoPeer.start(
                peersBin: Peers.bin, fixtureScript: Peers.root.appendingPathComponent("Tests/Peers/moto_fixture.py").path,
                workDir: Harness.tempDir("legate-moto"))
        } catch {
            XCTFail("moto could not be started: \(error)")
            throw error
        }
        do {
            return MotoServer(peer: peer, fixture: try JSONDecoder().decode(MotoFixture.self, from: peer.fixture))
        } catch {
            peer.stop()
            throw error
        }
    }

    func stop() { peer.stop() }
}

/// A loopback stand-in for what moto does not serve, in front of moto:
/// - `/latest/…`: the EC2 instance metadata service, IMDSv2 (a PUT token is required, TTL header,
///   401 without a valid token), serving a real assumed-role session of moto;
/// - `/container/credentials`: the ECS/EKS container credentials endpoint (Authorization token
///   required);
/// - everything else is relayed to moto, counting calls per action and, when asked, answering a
///   share of them with HTTP 500 or a ThrottlingException instead (fault injection).
/// - moto answers an unsigned AssumeRoleWithWebIdentity with HTTP 500 when signature checking is
///   on (real AWS accepts it unsigned and checks the token). The relay plays AWS's part: it checks
///   the token against the expected one (InvalidIdentityToken otherwise) and signs the call with
///   the fixture's IAM user before passing it to moto. Nothing else is altered.
final class AWSStandIn: Sendable {
    struct State {
        var counts: [String: Int] = [:]
        var faultRate = 0.0
        var rng = SplitMix64(seed: 42)
        var imdsTokens: Set<String> = []
        var imdsTokenRequests = 0
        var containerRequests = 0
        var webIdentityToken = "eyJhbGciOiJSUzI1NiJ9.legate-test.sig"
        var faultsInjected = 0
    }

    let moto: MotoServer
    let state = Mutex(State())
    let containerToken = "container-auth-token-\(UUID().uuidString)"
    let http = HTTPClient(eventLoopGroupProvider: .singleton)

    init(moto: MotoServer) { self.moto = moto }

    func count(_ action: String) -> Int { state.withLock { $0.counts[action] ?? 0 } }
    func resetCounts() { state.withLock { $0.counts = [:] } }
    func setFaultRate(_ r: Double) { state.withLock { $0.faultRate = r } }
    var faultsInjected: Int { state.withLock { $0.faultsInjected } }
    var webIdentityToken: String { state.withLock { $0.webIdentityToken } }

    var sessionJSON: [String: Any] {
        let s = moto.fixture.session
        return [
            "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": s.AccessKeyId, "SecretAccessKey": s.SecretAccessKey, "Token": s.Token,
            "Expiration": s.Expiration, "LastUpdated": "2026-01-01T00:00:00Z", "RoleArn": moto.fixture.roleArn,
        ]
    }

    static func response(_ status: HTTPResponse.Status, _ body: [UInt8], contentType: String = "application/json", headers: [(String, String)] = []) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        for (k, v) in headers { if let name = HTTPField.Name(k) { fields[name] = v } }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    func respond(_ request: Request) async throws -> Response {
        var buffer = try await request.body.collect(upTo: 4 << 20)
        let body = buffer.readBytes(length: buffer.readableBytes) ?? []
        let path = request.uri.path
        if path.hasPrefix("/latest/") { return imds(request, path: path) }
        if path == "/container/credentials" {
            state.withLock { $0.containerRequests += 1 }
            guard request.headers[.authorization] == containerToken else {
                return Self.response(.forbidden, Array(#"{"code":"AccessDenied","message":"bad authorization token"}"#.utf8))
            }
            return Self.response(.ok, Array(try JSONSerialization.data(withJSONObject: sessionJSON)))
        }
        var headers = request.headers.map { ($0.name.rawName, $0.value) }
        // HTTPTypes carries Host as the authority, not as a header; the signature covers it.
        if let authority = request.head.authority { headers.append(("Host", authority)) }
        let action = Self.action(headers: headers, body: body)
        let fault: Int? = state.withLock { s in
            s.counts[action, default: 0] += 1
            guard s.faultRate > 0, Double(s.rng.next() % 10_000) / 10_000 < s.faultRate else { return nil }
            s.faultsInjected += 1
            return Int(s.rng.next() % 2)
        }
        if let fault {
            return fault == 0
                ? Self.response(.internalServerError, Array(#"{"__type":"InternalFailure","message":"injected by the test relay"}"#.utf8))
                : Self.response(.badRequest, Array(#"{"__type":"ThrottlingException","message":"Rate exceeded (injected by the test relay)"}"#.utf8))
        }
        var forwardBody = body
        if action == "AssumeRoleWithWebIdentity", request.headers[.authorization] == nil {
            let form = Self.form(body)
            guard form["WebIdentityToken"] == webIdentityToken else {
                return Self.response(
                    .badRequest,
                    Array("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Couldn't retrieve verification key from your identity provider</Message></Error></ErrorResponse>".utf8),
                    contentType: "text/xml")
            }
            forwardBody = body
            headers = headers.filter { !["host", "content-length", "authorization", "x-amz-date"].contains($0.0.lowercased()) }
            let target = moto.url + (request.uri.path.isEmpty ? "/" : request.uri.path)
            let f = moto.fixture
            headers += try SigV4Signer(service: "sts", region: f.region).sign(
                method: "POST", url: target, headers: headers,
                body: forwardBody, credentials: AWSCredentials(accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey), date: Date())
        }
        var out = HTTPClientRequest(url: moto.url + request.uri.description)
        out.method = .init(rawValue: request.method.rawValue)
        for (k, v) in headers where !["content-length", "connection"].contains(k.lowercased()) { out.headers.add(name: k, value: v) }
        out.body = .bytes(ByteBuffer(bytes: forwardBody))
        let r = try await http.execute(out, timeout: .seconds(30))
        var rb = try await r.body.collect(upTo: 16 << 20)
        return Self.response(
            .init(code: Int(r.status.code)), rb.readBytes(length: rb.readableBytes) ?? [],
            contentType: r.headers.first(name: "Content-Type") ?? "application/json")
    }

    func imds(_ request: Request, path: String) -> Response {
        if request.method == .put && path == "/latest/api/token" {
            guard let ttl = request.headers[HTTPField.Name("X-aws-ec2-metadata-token-ttl-seconds")!], let n = Int(ttl), (1...21600).contains(n) else {
                return Self.response(.badRequest, [], contentType: "text/plain")
            }
            let token = "imds-\(UUID().uuidString)"
            state.withLock {
                $0.imdsTokens.insert(token)
                $0.imdsTokenRequests += 1
            }
            return Self.response(.ok, Array(token.utf8), contentType: "text/plain", headers: [("X-aws-ec2-metadata-token-ttl-seconds", ttl)])
        }
        guard request.method == .get else { return Self.response(.methodNotAllowed, [], contentType: "text/plain") }
        let token = request.headers[HTTPField.Name("X-aws-ec2-metadata-token")!]
        guard let token, state.withLock({ $0.imdsTokens.contains(token) }) else { return Self.response(.unauthorized, [], contentType: "text/plain") }
        switch path {
        case "/latest/meta-data/iam/security-credentials/", "/latest/meta-data/iam/security-credentials":
            return Self.response(.ok, Array("legate-role".utf8), contentType: "text/plain")
        case "/latest/meta-data/iam/security-credentials/legate-role":
            return Self.response(.ok, Array((try? JSONSerialization.data(withJSONObject: sessionJSON)) ?? Data()))
        default:
            return Self.response(.notFound, [], contentType: "text/plain")
        }
    }

    static func action(headers: [(String, String)], body: [UInt8]) -> String {
        if let target = headers.first(where: { $0.0.lowercased() == "x-amz-target" })?.1, let dot = target.lastIndex(of: ".") {
            return String(target[target.index(after: dot)...])
        }
        return form(body)["Action"] ?? "unknown"
    }

    static func form(_ body: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            if kv.count == 2 { out[kv[0]] = kv[1] }
        }
        return out
    }
}

/// Starts moto (with the fixture) and the stand-in in front of it for the duration of `body`.
func withAWSPeers<T: Sendable>(_ body: @Sendable (_ moto: MotoServer, _ standIn: AWSStandIn, _ url: String) async throws -> T) async throws -> T {
    let moto = try await MotoServer.start()
    defer { moto.stop() }
    let standIn = AWSStandIn(moto: moto)
    do {
        let r = try await withLoopbackServer({ request in try await standIn.respond(request) }) { url in
            try await body(moto, standIn, url)
        }
        try? await standIn.http.shutdown()
        return r
    } catch {
        try? await standIn.http.shutdown()
        throw error
    }
}

/// Serves `respond` over plain HTTP on a free loopback port (a test stand-in for a cloud or
/// cluster API) for the duration of `body`, which gets the base URL.
func withLoopbackServer<T: Sendable>(
    _ respond: @escaping @Sendable (Request) async throws -> Response, _ body: @Sendable (_ url: String) async throws -> T
) async throws -> T {
    let port = PortBox()
    let quiet = Logger(label: "stand-in", factory: { _ in SwiftLogNoOpLogHandler() })
    let app = Application(
        responder: CallbackResponder<BasicRequestContext> { request, _ in try await respond(request) },
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in await port.set(channel.localAddress?.port ?? 0) }, logger: quiet)
    let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
    return try await running(group) { try await body("http://127.0.0.1:\(await port.get())") }
}
