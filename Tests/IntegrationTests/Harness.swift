import AsyncHTTPClient
import Foundation
import KeyProviders
import LegateAgent
import LegateCore
import LegateManager
import LegateWire
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Synchronization
import XCTest

/// Captures log lines in memory so tests can scan them (for tokens, for expected messages).
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }
    var text: String { all.joined(separator: "\n") }

    func logger(_ label: String, level: Logger.Level = .debug) -> Logger {
        var l = Logger(label: label) { label in CaptureHandler(label: label, capture: self) }
        l.logLevel = level
        return l
    }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct CaptureHandler: LogHandler {
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        let label: String
        let capture: LogCapture

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all = metadata
            if let m = event.metadata { all.merge(m) { _, n in n } }
            let meta = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            capture.append("\(event.level) \(label): \(event.message) \(meta)")
            if ProcessInfo.processInfo.environment["LEGATE_TEST_VERBOSE"] != nil {
                FileHandle.standardError.write(Data("\(event.level) \(label): \(event.message) \(meta)\n".utf8))
            }
        }
    }
}

enum Harness {
    static func tempDir(_ name: String = "legate-test") -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func fastSettings(heartbeat: Duration = .seconds(1), faultInjection: Bool = true) -> ManagerSettings {
        var s = ManagerSettings()
        s.heartbeatInterval = heartbeat
        s.pollInterval = .seconds(2)
        s.faultInjection = faultInjection
        return s
    }

    /// Waits until `condition` holds, polling every 20 ms; fails the test after `timeout`.
    @discardableResult
    static func eventually(
        _ what: String, timeout: Duration = .seconds(30), file: StaticString = #filePath, line: UInt = #line,
        _ condition: () async throws -> Bool
    ) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < timeout {
            if try await condition() { return clock.now - start }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("timed out after \(timeout) waiting for: \(what)", file: file, line: line)
        throw CancellationError()
    }

    /// The directory holding the built `legate` and `legate-manager` executables.
    static var binDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["LEGATE_BIN_DIR"] { return dir }
        // Tests/IntegrationTests/Harness.swift → package root
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }
}

/// An in-process manager running in a ServiceGroup for the duration of a closure.
struct TestManager: Sendable {
    let runtime: ManagerRuntime
    let port: Int
    let stateDirectory: String
    var core: ManagerCore { runtime.core }
    var url: String { "https://localhost:\(port)" }
    var caFile: String { runtime.caCertificatePath ?? "" }

    func token(_ name: String = "test") async throws -> CreatedToken { try await core.createToken(name: name) }

    func tokenFile(_ name: String = "test") async throws -> (CreatedToken, String) {
        let t = try await token(name)
        let path = stateDirectory + "/token-\(t.id)"
        try FileIO.write(t.token, to: path, mode: 0o600)
        return (t, path)
    }
}

func withManager<T: Sendable>(
    settings: ManagerSettings = Harness.fastSettings(), stateDirectory: String? = nil, logs: LogCapture = LogCapture(),
    clientCA: String? = nil, _ body: @Sendable (TestManager) async throws -> T
) async throws -> T {
    var config = ManagerConfiguration(stateDirectory: stateDirectory ?? Harness.tempDir("legate-manager"))
    config.port = 0
    config.settings = settings
    config.clientCA = clientCA
    let logger = logs.logger("manager", level: .trace)
    let runtime = try await ManagerRuntime.make(config, logger: logger)
    let group = ServiceGroup(configuration: .init(services: runtime.services.map { .init(service: $0) }, logger: logger))
    return try await running(group) {
        let port = await runtime.port()
        return try await body(TestManager(runtime: runtime, port: port, stateDirectory: config.stateDirectory))
    }
}

/// Runs `group` in the background for the duration of `body`, then shuts it down gracefully and
/// waits for it, whether `body` returned or threw.
func running<T: Sendable>(_ group: ServiceGroup, _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// An in-process agent.
struct TestAgent: Sendable {
    let monitor: AgentMonitor
    let group: ServiceGroup
    var status: AgentStatus { monitor.status }
    func stop() async { await group.triggerGracefulShutdown() }
}

struct AgentSpec: Sendable {
    var name: String
    var tags: [String] = []
    var capacity = 8
    /// Connector drivers; the built-in one unless a test needs more.
    var providers: ProviderRegistry = AgentService.builtinProviders
    /// The agent's environment as drivers see it (AWS_* credential sources).
    var environment: [String: String] = [:]
}

func agentConfiguration(_ m: TestManager, tokenFile: String, spec: AgentSpec) throws -> AgentConfiguration.Validated {
    var c = AgentConfiguration()
    c.managerURL = m.url
    c.tokenFile = tokenFile
    c.caFile = m.caFile
    c.name = spec.name
    c.tags = spec.tags
    c.capacity = spec.capacity
    c.stateDirectory = m.stateDirectory + "/agent-\(spec.name)"
    c.drainGrace = .seconds(10)
    return try c.validated()
}

/// Runs in-process agents for the duration of `body`, then drains them.
func withAgents<T: Sendable>(
    _ m: TestManager, _ specs: [AgentSpec], logs: LogCapture = LogCapture(), managerURL: String? = nil,
    _ body: @Sendable ([TestAgent]) async throws -> T
) async throws -> T {
    let (_, tokenFile) = try await m.tokenFile("pool")
    var agents: [TestAgent] = []
    for spec in specs {
        var cfg = try agentConfiguration(m, tokenFile: tokenFile, spec: spec)
        if let managerURL { cfg.manager = try ManagerEndpoint(managerURL) }
        let monitor = AgentMonitor()
        let service = AgentService(
            configuration: cfg, monitor: monitor, logger: logs.logger("agent.\(spec.name)"), providers: spec.providers,
            environment: spec.environment)
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logs.logger("group")))
        agents.append(TestAgent(monitor: monitor, group: group))
    }
    let started = agents
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        for a in started {
            tasks.addTask {
                try await a.group.run()
                return nil
            }
        }
        do {
            let result = try await body(started)
            for a in started { await a.stop() }
            try await tasks.waitForAll()
            return result
        } catch {
            for a in started { await a.stop() }
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// Runs one in-process agent with a given configuration for the duration of `body`.
func withAgentService<T: Sendable>(_ config: AgentConfiguration.Validated, _ body: @Sendable (AgentMonitor) async throws -> T) async throws -> T {
    let monitor = AgentMonitor()
    let logs = LogCapture()
    let service = AgentService(configuration: config, monitor: monitor, logger: logs.logger("agent"))
    let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logs.logger("group")))
    return try await running(group) { try await body(monitor) }
}

/// The admin API over HTTPS, as an operator's tooling would use it.
final class AdminAPI: Sendable {
    let base: String
    let key: String
    let http: HTTPClient

    init(url: String, stateDirectory: String) throws {
        base = url
        key = try FileIO.readText(stateDirectory + "/admin.key", what: "admin key").trimmingWhitespace()
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(stateDirectory + "/tls/ca.pem"))]
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    func shutdown() async { try? await http.shutdown() }

    struct Failure: Error, CustomStringConvertible {
        let status: Int
        let body: String
        var description: String { "HTTP \(status): \(body)" }
    }

    func raw(_ method: HTTPMethod, _ path: String, body: Data? = nil, auth: String? = nil, headers: [(String, String)] = []) async throws -> (Int, Data) {
        var req = HTTPClientRequest(url: base + path)
        req.method = method
        req.headers.add(name: "Authorization", value: "Bearer " + (auth ?? key))
        for (k, v) in headers { req.headers.add(name: k, value: v) }
        if let body {
            req.headers.add(name: "Content-Type", value: "application/json")
            req.body = .bytes(ByteBuffer(bytes: body))
        }
        let resp = try await http.execute(req, timeout: .seconds(30))
        let data = Data(try await resp.body.collect(upTo: 32 << 20).readableBytesView)
        return (Int(resp.status.code), data)
    }

    func call<R: Decodable>(_ method: HTTPMethod, _ path: String, _ body: (any Encodable)? = nil, as: R.Type = R.self) async throws -> R {
        let (status, data) = try await raw(method, WireProtocol.apiPrefix + "/admin" + path, body: try body.map { try WireCoding.encode($0) })
        guard (200..<300).contains(status) else { throw Failure(status: status, body: String(decoding: data, as: UTF8.self)) }
        return try WireCoding.decoder().decode(R.self, from: data)
    }

    func createTask(_ script: String, selectors: [String] = [], maxAttempts: Int? = nil, timeout: Int? = nil, env: [String: String]? = nil) async throws -> TaskView {
        try await call(.POST, "/tasks", CreateTaskRequest(shell: ShellSpec(script: script, env: env), selectors: selectors, maxAttempts: maxAttempts, timeoutSeconds: timeout))
    }

    func task(_ id: String) async throws -> TaskView { try await call(.GET, "/tasks/\(id)") }
    func tasks() async throws -> [TaskView] { try await call(.GET, "/tasks") }
    func logs(_ id: String) async throws -> [TaskLogView] { try await call(.GET, "/tasks/\(id)/logs") }
    func delegates() async throws -> [DelegateView] { try await call(.GET, "/delegates") }
    func setStreams(_ p: StreamPolicy) async throws { let _: StreamPolicyRequest = try await call(.PUT, "/streams", StreamPolicyRequest(policy: p)) }
    func revoke(_ tokenId: String) async throws {
        let (status, data) = try await raw(.DELETE, WireProtocol.apiPrefix + "/admin/tokens/\(tokenId)")
        guard status == 204 else { throw Failure(status: status, body: String(decoding: data, as: UTF8.self)) }
    }

    /// Waits until every listed task is final.
    func waitFinal(_ ids: [String], timeout: Duration = .seconds(60)) async throws -> [TaskView] {
        var views: [String: TaskView] = [:]
        let wanted = Set(ids)
        do {
            try await Harness.eventually("\(ids.count) tasks to finish", timeout: timeout) {
                for t in try await self.tasks() where wanted.contains(t.id) { views[t.id] = t }
                return ids.allSatisfy { views[$0]?.status.isFinal == true }
            }
        } catch {
            var counts: [String: Int] = [:]
            for v in views.values { counts[v.status.rawValue, default: 0] += 1 }
            let stuck = views.values.filter { !$0.status.isFinal }.prefix(3).map(\.id)
            var detail = ""
            for id in stuck { if let t = try? await task(id) { detail += " \(id): \(t.status) \(t.waitingReason ?? "") on \(t.delegateId ?? "-");" } }
            XCTFail("task states: \(counts); stuck:\(detail); delegates: \((try? await delegates())?.map { "\($0.name) \($0.status) \($0.mode?.rawValue ?? "-") \($0.running)/\($0.capacity)" } ?? [])")
            throw error
        }
        return ids.compactMap { views[$0] }
    }
}

/// A child process (the real `legate` or `legate-manager` binary) with stdout and stderr captured to
/// a file. Spawned with ProcessSpawner and reaped by pid, so it does not depend on Foundation's
/// child monitoring (which missed SIGKILLed children here).
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let logPath: String
    private let state = Mutex<Int32?>(nil)

    init(_ executable: String, _ args: [String], env: [String: String] = [:], logPath: String) throws {
        self.logPath = logPath
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        var e = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        for (k, v) in env { e[k] = v }
        let pid = try ProcessSpawner.spawn(argv: [Harness.binDirectory + "/" + executable] + args, environment: e, stdout: fd, stderr: fd)
        self.pid = pid
    }

    var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ s: Int32) {
        if state.withLock({ $0 }) == nil { kill(pid, s) }
    }

    /// The exit status (128+signal when killed) once reaped, nil while running.
    func poll() -> Int32? {
        state.withLock { exit in
            if let exit { return exit }
            exit = ProcessSpawner.exitStatus(of: pid)
            return exit
        }
    }

    /// Waits for exit; returns the exit status (or nil on timeout).
    func wait(timeout: Duration = .seconds(30)) async -> Int32? {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < timeout {
            if let s = poll() { return s }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    deinit {
        if poll() == nil {
            kill(pid, SIGKILL)
            _ = ProcessSpawner.exitStatus(of: pid, wait: true)
        }
    }
}
