import ArgumentParser
import Foundation
import LegateAgent
import LegateCore
import LegateManager
import LegateWire
import Logging
import ServiceLifecycle

/// `legate demo`: an embedded manager on loopback with TLS, one agent, one shell task — the whole
/// round trip in one process, printing the task's output as it streams in.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an embedded manager and agent on loopback (TLS) and a shell task end to end.")

    @Option(name: .long, help: "Shell script the demo task runs (scope demo/app/web, where the secret demo-token exists).")
    var script: String = """
        echo "hello from the delegate on $(hostname)"
        echo "the secret, printed raw:    <+secrets.getValue(\"demo-token\")>"
        echo "the secret, base64-encoded: $(printf '%s' "<+secrets.getValue(\"demo-token\")>" | base64)"
        for i in 1 2 3; do echo "step $i of 3"; sleep 0.3; done
        echo "warnings go to stderr" >&2
        """
    @Flag(name: .long, help: "Show the manager's and agent's own logs.")
    var verbose = false

    func run() async throws {
        var logger = Logger(label: "legate-demo") { _ in
            var h = LineLogHandler(label: "demo", json: false)
            h.logLevel = .info
            return h
        }
        logger.logLevel = verbose ? .info : .error

        let state = FileManager.default.temporaryDirectory.appendingPathComponent("legate-demo-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        var mc = ManagerConfiguration(stateDirectory: state + "/manager")
        mc.port = 0
        mc.settings.heartbeatInterval = .seconds(2)
        let manager = try await ManagerRuntime.make(mc, logger: logger)
        let managerGroup = ServiceGroup(configuration: .init(services: manager.services.map { .init(service: $0) }, logger: logger))

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await managerGroup.run() }
            let port = await manager.port()
            say("manager   listening on https://localhost:\(port) (TLS, dev CA \(manager.caCertificatePath ?? "-"))")

            let token = try await manager.core.createToken(name: "demo")
            try FileIO.write(token.token, to: state + "/token", mode: 0o600)
            var ac = AgentConfiguration()
            ac.managerURL = "https://localhost:\(port)"
            ac.tokenFile = state + "/token"
            ac.caFile = manager.caCertificatePath
            ac.name = "demo-agent"
            ac.tags = ["demo"]
            ac.capacity = 2
            ac.stateDirectory = state + "/agent"
            ac.drainGrace = .seconds(10)
            let monitor = AgentMonitor()
            let agent = AgentService(configuration: try ac.validated(), monitor: monitor, logger: logger, providers: Drivers.all)
            let agentGroup = ServiceGroup(configuration: .init(services: [.init(service: agent)], logger: logger))
            tasks.addTask { try await agentGroup.run() }

            let clock = ContinuousClock()
            let t0 = clock.now
            while monitor.status.mode != .socket {
                guard clock.now - t0 < .seconds(20) else { throw ConfigurationError(code: "demo_failed", "The agent did not connect within 20 s; run with --verbose.") }
                try await Task.sleep(for: .milliseconds(20))
            }
            say("agent     connected over the WebSocket stream in \(ms(clock.now - t0)) (delegate \(monitor.status.delegateId ?? "?"))")

            let secretValue = "s3cr3t-" + Identifiers.make(prefix: "")
            let sealed = try await manager.core.createSecret(
                CreateSecretRequest(name: "demo-token", scope: "demo/app/web", value: Data(secretValue.utf8).base64EncodedString()),
                actor: "demo")
            say("secret    demo/app/web/demo-token sealed on the delegate (built-in key v\(sealed.keyVersion ?? 0)); the manager keeps only the envelope")

            let created = try await manager.core.createTask(
                CreateTaskRequest(
                    name: "demo", shell: ShellSpec(script: script), selectors: ["demo"], timeoutSeconds: 60, scope: "demo/app/web"),
                actor: "demo")
            say("task      \(created.id) queued for tags [demo]; output as it streams:")
            let started = clock.now
            var seen = 0
            var view = created
            while true {
                for entry in try await manager.core.logs(taskId: created.id).dropFirst(seen) {
                    let prefix = entry.stream == .stdout ? "  | " : "  ! "
                    for line in entry.data.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
                        say(prefix + line)
                    }
                    seen += 1
                }
                view = try await manager.core.task(id: created.id)
                if view.status.isFinal, let r = view.result, seen >= r.logEntries { break }
                guard clock.now - started < .seconds(60) else { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let code = view.result?.exitCode.map(String.init) ?? "-"
            say("result    \(view.status.rawValue), exit code \(code), on \(view.delegateId ?? "-"), \(ms(clock.now - started)) end to end")

            await agentGroup.triggerGracefulShutdown()
            try await tasks.next()
            logger.info("agent stopped")
            await managerGroup.triggerGracefulShutdown()
            try await tasks.waitForAll()
            logger.info("manager stopped")
            if view.status != .succeeded { throw ExitCode(1) }
        }
    }

    private func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }
    private func ms(_ d: Duration) -> String { "\(d.milliseconds) ms" }
}
