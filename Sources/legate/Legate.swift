import ArgumentParser
import Foundation
import LegateAgent
import LegateCore
import LegateManager
import LegateWire
import Logging
import ServiceLifecycle

@main
struct Legate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "legate",
        abstract: "Outbound-only secrets delegate: dials out to a Legate manager and runs its tasks.",
        subcommands: [Run.self, Check.self, Health.self, SecretsLoad.self, Demo.self, Keys.self, BenchCommand.self, Version.self], defaultSubcommand: nil)
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("legate \(LegateVersion.current) (git \(BuildRevision.value))") }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to the manager and run tasks until stopped (SIGTERM drains).",
        discussion: """
            Configuration comes from the YAML file, then LEGATE_* environment variables, then these flags;
            later sources win. See docs/configuration.md for every key.
            """)

    @OptionGroup var options: AgentOptions

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let cfg: AgentConfiguration
        let logger: Logger
        let validated: AgentConfiguration.Validated
        do {
            cfg = try options.load(environment: env)
            logger = try LogSetup.bootstrap(level: cfg.logLevel, format: cfg.logFormat, label: "legate")
            validated = try cfg.validated()
            try FileIO.makeDirectory(cfg.stateDirectory, mode: 0o700)
        } catch let e as any LegateError {
            fail(e)
        }
        // systemd (sd_notify) and `legate health` (the status file) follow the agent through its monitor.
        let reporter = AgentReporter(
            notifier: SystemdNotifier(environment: env), statusFile: StatusReport.path(stateDirectory: cfg.stateDirectory),
            managerURL: validated.manager.baseURL, capacity: cfg.capacity, logger: logger)
        let monitor = reporter.makeMonitor()
        let agent = AgentService(configuration: validated, monitor: monitor, logger: logger, providers: Drivers.all)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let address = validated.metrics {
            let metrics = AgentMetrics(monitor: monitor, capacity: cfg.capacity, version: LegateVersion.current, revision: BuildRevision.value)
            // First in the group, so it is shut down last: metrics stay up while the agent drains.
            services.append(.init(service: MetricsServer(address: address, metrics: metrics, logger: logger, onBound: reporter.setMetricsAddress)))
        }
        services.append(.init(service: agent))
        let group = ServiceGroup(
            configuration: .init(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        reporter.starting()
        do {
            try await group.run()
            reporter.stopped(reason: "the agent stopped normally (drained after SIGTERM/SIGINT)")
        } catch let e as any LegateError {
            reporter.stopped(reason: "\(e.message) [\(e.code)]")
            fail(e)
        } catch let e as ServiceGroupError {
            reporter.stopped(reason: "\(e)")
            fail(ConfigurationError(code: "service_failed", "\(e)"))
        }
    }
}

/// Prints the operator-facing message and exits non-zero.
func fail(_ error: any LegateError) -> Never {
    FileHandle.standardError.write(Data("legate: error: \(error.message) [\(error.code)]\n".utf8))
    Foundation.exit(error.code == "token_revoked" ? 3 : 1)
}
