import AsyncHTTPClient
import Foundation
import KeyProviders
import LegateAgent
import LegateCore
import LegateManager
import LegateWire
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// An embedded manager on loopback with TLS for the system suites.
struct BenchManager {
    let runtime: ManagerRuntime
    let group: ServiceGroup
    let dir: String

    var core: ManagerCore { runtime.core }

    static func start(dir: String, heartbeat: Duration = .seconds(2)) async throws -> BenchManager {
        var c = ManagerConfiguration(stateDirectory: dir + "/manager")
        c.port = 0
        c.settings.heartbeatInterval = heartbeat
        c.settings.faultInjection = true
        var logger = Logger(label: "bench-manager")
        logger.logLevel = .critical
        let runtime = try await ManagerRuntime.make(c, logger: logger)
        let group = ServiceGroup(configuration: .init(services: runtime.services.map { .init(service: $0) }, logger: logger))
        return BenchManager(runtime: runtime, group: group, dir: dir)
    }

    func url() async -> String { "https://localhost:\(await runtime.port())" }

    func tokenFile(_ name: String) async throws -> String {
        let t = try await core.createToken(name: name)
        let path = dir + "/token-\(name)"
        try FileIO.write(t.token, to: path, mode: 0o600)
        return path
    }
}

/// Runs `body` with a manager serving in the background.
func withBenchManager<T: Sendable>(dir: String, heartbeat: Duration = .seconds(2), _ body: @Sendable (BenchManager) async throws -> T) async throws -> T {
    let m = try await BenchManager.start(dir: dir, heartbeat: heartbeat)
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await m.group.run()
            return nil
        }
        _ = await m.runtime.port()
        do {
            let r = try await body(m)
            await m.group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return r
        } catch {
            await m.group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// The agent as a separate process: cold start, idle RSS, peak RSS under 50 shell tasks, binary size.
enum FootprintSuite {
    static func run(quick: Bool, dir: String, executable: String) async throws -> [BenchFigure] {
        try await withBenchManager(dir: dir) { m in
            let url = await m.url()
            let ca = m.runtime.caCertificatePath ?? ""
            let token = try await m.tokenFile("footprint")
            let clock = ContinuousClock()

            // Reference: the same binary, alive but not connected (registering against a closed port).
            let idleRef = try Child.spawn(executable, ["run", "--manager-url", "https://localhost:9", "--token-file", token, "--log-level", "critical"])
            try await Task.sleep(for: .seconds(2))
            let refRSS = Stats.memory(pid: idleRef.pid)?.rss
            idleRef.kill()
            let versionTimes = try (0..<3).map { _ in try Stats.run(executable, ["version"]).1.seconds * 1000 }

            var colds: [Double] = []
            var idles: [Double] = []
            var peak: Double = 0
            for round in 0..<(quick ? 1 : 3) {
                let name = "fp\(round)"
                let t0 = clock.now
                let agent = try Child.spawn(executable, [
                    "run", "--manager-url", url, "--token-file", token, "--ca-file", ca, "--name", name, "--capacity", "50",
                    "--state-dir", m.dir + "/agent-\(round)", "--log-level", "error",
                ])
                defer { agent.kill() }
                // Connected = registered: the manager has the delegate (its stream follows in ms;
                // the manager's view of the mode only changes with the next heartbeat).
                while try await !m.core.delegates().contains(where: { $0.name == name }) {
                    guard clock.now - t0 < .seconds(30) else { throw BenchError("agent did not connect") }
                    try await Task.sleep(for: .milliseconds(5))
                }
                colds.append((clock.now - t0).seconds * 1000)
                try await Task.sleep(for: .seconds(quick ? 2 : 5))
                idles.append(Stats.memory(pid: agent.pid)?.rss ?? 0)
                if round == 0 {
                    var ids: [String] = []
                    for _ in 0..<50 {
                        ids.append(try await m.core.createTask(CreateTaskRequest(shell: ShellSpec(script: "echo started; sleep 1; echo done"))).id)
                    }
                    let wanted = Set(ids)
                    while try await m.core.tasks(status: nil).contains(where: { wanted.contains($0.id) && !$0.status.isFinal }) {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    peak = Stats.memory(pid: agent.pid)?.peak ?? 0
                }
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: executable)[.size] as? Int) ?? 0
            return [
                BenchFigure(suite: "footprint", figure: "cold start to registered", unit: "ms", value: Stats.median(colds),
                            reference: Stats.median(versionTimes), referenceName: "`legate version` wall", higherIsBetter: false, runs: colds.count),
                BenchFigure(suite: "footprint", figure: "agent idle RSS after connecting", unit: "MiB", value: Stats.median(idles),
                            reference: refRSS, referenceName: "same binary, unconnected", higherIsBetter: false, runs: idles.count, target: "≤ 15 MiB"),
                BenchFigure(suite: "footprint", figure: "agent peak RSS, 50 concurrent shell tasks", unit: "MiB", value: peak,
                            reference: Stats.median(idles), referenceName: "idle RSS", higherIsBetter: false, runs: 1),
                BenchFigure(suite: "footprint", figure: "binary size", unit: "MiB", value: Double(size) / 1_048_576,
                            reference: nil, referenceName: nil, higherIsBetter: false, runs: 1),
            ]
        }
    }
}

/// Dispatch latency (task created → process spawn on the agent) over the socket and over forced
/// polling, and trivial-task throughput with 1 and 3 agents; reference: one loopback HTTPS round trip.
enum DispatchSuite {
    static func run(quick: Bool, dir: String) async throws -> [BenchFigure] {
        try await withBenchManager(dir: dir) { m in
            let url = await m.url()
            let token = try await m.tokenFile("dispatch")
            var figures: [BenchFigure] = []
            let rtt = try await httpsRoundTrips(url: url, ca: m.runtime.caCertificatePath ?? "", count: quick ? 50 : 200)
            let samples = quick ? 40 : 200

            try await withAgents(url: url, ca: m.runtime.caCertificatePath ?? "", token: token, dir: m.dir, count: 1) { monitors in
                for mode in [ConnectionMode.socket, .polling] {
                    try await m.core.setStreamPolicy(mode == .socket ? .open : .refuse)
                    try await waitMode(monitors, mode)
                    var lat: [Double] = []
                    for _ in 0..<samples {
                        let t = try await m.core.createTask(CreateTaskRequest(shell: ShellSpec(command: ["true"])))
                        var v = try await m.core.task(id: t.id)
                        while !v.status.isFinal {
                            try await Task.sleep(for: .microseconds(200))
                            v = try await m.core.task(id: t.id)
                        }
                        if let r = v.result { lat.append(r.startedAt.timeIntervalSince(t.createdAt) * 1000) }
                    }
                    figures.append(BenchFigure(
                        suite: "dispatch", figure: "notice→start p50 over \(mode.rawValue)", unit: "ms", value: Stats.percentile(lat, 0.5),
                        reference: Stats.percentile(rtt, 0.5), referenceName: "HTTPS RTT p50", higherIsBetter: false, runs: lat.count,
                        target: mode == .socket ? "≤ 2 ms" : nil))
                    figures.append(BenchFigure(
                        suite: "dispatch", figure: "notice→start p99 over \(mode.rawValue)", unit: "ms", value: Stats.percentile(lat, 0.99),
                        reference: Stats.percentile(rtt, 0.99), referenceName: "HTTPS RTT p99", higherIsBetter: false, runs: lat.count,
                        target: mode == .socket ? "≤ 10 ms" : nil))
                }
                try await m.core.setStreamPolicy(.open)
            }
            for agents in [1, 3] {
                try await withAgents(url: url, ca: m.runtime.caCertificatePath ?? "", token: token, dir: m.dir, count: agents) { monitors in
                    try await waitMode(monitors, .socket)
                    let n = quick ? 200 : 1000
                    let before = try await m.core.store.countTasks(status: .succeeded)
                    let clock = ContinuousClock()
                    let start = clock.now
                    var ids: [String] = []
                    for _ in 0..<n { ids.append(try await m.core.createTask(CreateTaskRequest(shell: ShellSpec(command: ["true"]))).id) }
                    while try await m.core.store.countTasks(status: .succeeded) < before + ids.count {
                        try await Task.sleep(for: .milliseconds(20))
                        if clock.now - start > .seconds(300) { throw BenchError("throughput run did not finish") }
                    }
                    let rate = Double(n) / (clock.now - start).seconds
                    figures.append(BenchFigure(
                        suite: "dispatch", figure: "trivial tasks/s, \(agents) agent(s)", unit: "tasks/s", value: rate,
                        reference: 1000 / Stats.percentile(rtt, 0.5), referenceName: "sequential HTTPS RTT/s", higherIsBetter: true,
                        runs: 1, target: agents == 3 ? "≥ 1,000" : nil))
                }
            }
            return figures
        }
    }

    static func waitMode(_ monitors: [AgentMonitor], _ mode: ConnectionMode) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        while !monitors.allSatisfy({ $0.status.mode == mode }) {
            guard clock.now - start < .seconds(30) else { throw BenchError("agents did not reach \(mode)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    static func httpsRoundTrips(url: String, ca: String, count: Int) async throws -> [Double] {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(ca))]
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        var out: [Double] = []
        let clock = ContinuousClock()
        do {
            for i in 0..<(count + 5) {
                let start = clock.now
                let r = try await http.execute(HTTPClientRequest(url: url + "/api/v1/health"), timeout: .seconds(10))
                _ = try await r.body.collect(upTo: 1 << 16)
                if i >= 5 { out.append((clock.now - start).seconds * 1000) }
            }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try? await http.shutdown()
        return out
    }

    static func withAgents(
        url: String, ca: String, token: String, dir: String, count: Int, providers: ProviderRegistry = AgentService.builtinProviders,
        _ body: ([AgentMonitor]) async throws -> Void
    ) async throws {
        var services: [(AgentMonitor, ServiceGroup)] = []
        var logger = Logger(label: "bench-agent")
        logger.logLevel = .critical
        for i in 0..<count {
            var c = AgentConfiguration()
            c.managerURL = url
            c.tokenFile = token
            c.caFile = ca
            c.name = "bench-\(count)-\(i)"
            c.capacity = 32
            c.stateDirectory = dir + "/bench-agent-\(count)-\(i)"
            let monitor = AgentMonitor()
            let service = AgentService(configuration: try c.validated(), monitor: monitor, logger: logger, providers: providers)
            services.append((monitor, ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))))
        }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for (_, g) in services { tasks.addTask { try await g.run() } }
            do {
                try await body(services.map(\.0))
            } catch {
                for (_, g) in services { await g.triggerGracefulShutdown() }
                try? await tasks.waitForAll()
                throw error
            }
            for (_, g) in services { await g.triggerGracefulShutdown() }
            try await tasks.waitForAll()
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A child process started with ProcessSpawner; killed and reaped by pid.
struct Child {
    let pid: pid_t

    static func spawn(_ path: String, _ args: [String]) throws -> Child {
        let env = ProcessInfo.processInfo.environment.filter { $0.key == "PATH" || $0.key == "HOME" }
        return Child(pid: try ProcessSpawner.spawn(argv: [path] + args, environment: env))
    }

    func kill() {
        Glibc.kill(pid, SIGKILL)
        _ = ProcessSpawner.exitStatus(of: pid, wait: true)
    }
}
