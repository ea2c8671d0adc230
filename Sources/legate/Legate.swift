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
        subcommands: [Run.self, Demo.self, Keys.self, BenchCommand.self, Version.self], defaultSubcommand: nil)
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("legate \(LegateVersion.current)") }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to the manager and run tasks until stopped (SIGTERM drains).",
        discussion: """
            Configuration comes from the YAML file, then LEGATE_* environment variables, then these flags;
            later sources win. See docs/configuration.md for every key.
            """)

    @Option(name: .long, help: "YAML configuration file (default: $LEGATE_CONFIG, or /etc/legate/legate.yaml if it exists).")
    var config: String?
    @Option(name: .long, help: "Manager base URL, e.g. https://manager.example:8443.")
    var managerUrl: String?
    @Option(name: .long, help: "File holding the delegate token (0600).")
    var tokenFile: String?
    @Option(name: .long, help: "Delegate name shown in the manager (default: hostname).")
    var name: String?
    @Option(name: .long, help: "Comma-separated tags; tasks select delegates by tags.")
    var tags: String?
    @Option(name: .long, help: "Maximum concurrent tasks.")
    var capacity: Int?
    @Option(name: .long, help: "State directory.")
    var stateDir: String?
    @Option(name: .long, help: "PEM CA bundle to trust for the manager (in addition to the system roots).")
    var caFile: String?
    @Option(name: .long, help: "PEM client certificate for mTLS.")
    var clientCertFile: String?
    @Option(name: .long, help: "PEM client key for mTLS.")
    var clientKeyFile: String?
    @Option(name: .long, help: "Seconds SIGTERM waits for running tasks before stopping them.")
    var drainGraceSeconds: Int?
    @Option(name: .long, help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?
    @Option(name: .long, help: "text or json.")
    var logFormat: String?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var cfg = AgentConfiguration()
        do {
            let file = config ?? env["LEGATE_CONFIG"] ?? (FileManager.default.fileExists(atPath: "/etc/legate/legate.yaml") ? "/etc/legate/legate.yaml" : nil)
            if let file { try cfg.apply(yamlFile: file) }
            try cfg.apply(environment: env)
            if let managerUrl { cfg.managerURL = managerUrl }
            if let tokenFile {
                cfg.tokenFile = tokenFile
                cfg.token = nil
            }
            if let name { cfg.name = name }
            if let tags { cfg.tags = AgentConfiguration.splitList(tags) }
            if let capacity { cfg.capacity = capacity }
            if let stateDir { cfg.stateDirectory = stateDir }
            if let caFile { cfg.caFile = caFile }
            if let clientCertFile { cfg.clientCertificateFile = clientCertFile }
            if let clientKeyFile { cfg.clientKeyFile = clientKeyFile }
            if let drainGraceSeconds { cfg.drainGrace = .seconds(drainGraceSeconds) }
            if let logLevel { cfg.logLevel = logLevel }
            if let logFormat { cfg.logFormat = logFormat }
        } catch let e as any LegateError {
            fail(e)
        }
        let logger: Logger
        let validated: AgentConfiguration.Validated
        do {
            logger = try LogSetup.bootstrap(level: cfg.logLevel, format: cfg.logFormat, label: "legate")
            validated = try cfg.validated()
        } catch let e as any LegateError {
            fail(e)
        }
        let agent = AgentService(configuration: validated, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: agent)], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
                logger: logger))
        do {
            try await group.run()
        } catch let e as any LegateError {
            fail(e)
        } catch let e as ServiceGroupError {
            fail(ConfigurationError(code: "service_failed", "\(e)"))
        }
    }
}

/// Prints the operator-facing message and exits non-zero.
func fail(_ error: any LegateError) -> Never {
    FileHandle.standardError.write(Data("legate: error: \(error.message) [\(error.code)]\n".utf8))
    Foundation.exit(error.code == "token_revoked" ? 3 : 1)
}
