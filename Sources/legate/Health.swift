import ArgumentParser
import Foundation
import LegateAgent
import LegateCore

/// `legate health`: exit 0 when the local agent is healthy, 1 when not, from the status file the
/// agent keeps in its state directory. Local only: it never contacts the manager.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the local agent from its status file: exit 0 healthy, 1 not (one line says why).",
        discussion: """
            Without --liveness the agent must be registered and connected (socket or polling) and not
            draining: use it for readiness. With --liveness it only has to run with its event loop not
            stuck: use it for restart decisions (Kubernetes livenessProbe). The state directory comes
            from --state-dir, else the same YAML file and environment as `legate run`.
            """)

    @Option(help: "YAML configuration file (default: $LEGATE_CONFIG, or /etc/legate/legate.yaml if it exists).")
    var config: String?
    @Option(help: "The agent's state directory (overrides the configuration).")
    var stateDir: String?
    @Flag(help: "Only check that the agent runs and its loop is not stuck.")
    var liveness = false
    @Option(help: "Seconds after which an unchanged status file means the agent is stuck.")
    var maxAge: Int = 60

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let verdict: HealthVerdict
        do {
            let dir = try stateDirectory(env)
            let report = try StatusReport.read(stateDirectory: dir)
            verdict = HealthVerdict.evaluate(
                report, now: Date(), maxAge: .seconds(max(1, maxAge)), liveness: liveness, processAlive: Self.processAlive)
        } catch let e as any LegateError {
            print("unhealthy: \(e.message)")
            throw ExitCode(1)
        }
        print((verdict.healthy ? "healthy: " : "unhealthy: ") + verdict.summary)
        if !verdict.healthy { throw ExitCode(1) }
    }

    private func stateDirectory(_ env: [String: String]) throws -> String {
        if let stateDir { return stateDir }
        var cfg = AgentConfiguration()
        let file = config ?? env["LEGATE_CONFIG"] ?? (FileManager.default.fileExists(atPath: AgentOptions.defaultConfigFile) ? AgentOptions.defaultConfigFile : nil)
        if let file { try cfg.apply(yamlFile: file) }
        try cfg.apply(environment: env)
        return cfg.stateDirectory
    }

    /// EPERM means the process exists but belongs to another user (health run by an operator).
    static func processAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }
}
