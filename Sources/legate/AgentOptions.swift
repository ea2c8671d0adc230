import ArgumentParser
import Foundation
import LegateAgent
import LegateCore

/// The configuration flags of `legate run`, shared with `legate check` so both load the
/// configuration the same way: YAML file, then `LEGATE_*` environment, then these flags.
struct AgentOptions: ParsableArguments {
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
    @Option(name: .long, help: "Serve Prometheus metrics on this loopback host:port (e.g. 127.0.0.1:9464); empty: off.")
    var metricsListen: String?

    /// The configuration file that applies, if any.
    func configFile(_ env: [String: String]) -> String? {
        config ?? env["LEGATE_CONFIG"] ?? (FileManager.default.fileExists(atPath: AgentOptions.defaultConfigFile) ? AgentOptions.defaultConfigFile : nil)
    }

    static let defaultConfigFile = "/etc/legate/legate.yaml"

    /// Merges the three sources; later ones win. Not yet validated.
    func load(environment env: [String: String]) throws -> AgentConfiguration {
        var cfg = AgentConfiguration()
        if let file = configFile(env) { try cfg.apply(yamlFile: file) }
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
        if let metricsListen { cfg.metricsListen = metricsListen }
        return cfg
    }
}
