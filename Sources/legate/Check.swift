import ArgumentParser
import Foundation
import LegateAgent
import LegateCore
import Logging

/// `legate check`: loads and validates the configuration exactly as `legate run` does, prints what
/// would be used (never the token), and with `--connect` registers once with the manager.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate the configuration (as `legate run` loads it) and print what would be used.",
        discussion: """
            Exit status: 0 valid (and, with --connect, registered); 1 invalid configuration; 2 the
            manager could not be reached or refused the registration; 3 the token is revoked.
            """)

    @OptionGroup var options: AgentOptions
    @Flag(help: "Also register once with the manager (TLS, proxy and token are exercised; the manager records a delegate that turns lost later).")
    var connect = false

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let cfg: AgentConfiguration
        let validated: AgentConfiguration.Validated
        do {
            cfg = try options.load(environment: env)
            // The same checks as `run`, in the same order; the logger is not bootstrapped (stdout stays clean).
            _ = try LogSetup.validate(level: cfg.logLevel, format: cfg.logFormat)
            validated = try cfg.validated()
            _ = try AgentTLS.make(validated.raw)
        } catch let e as any LegateError {
            fail(e)
        }
        for (key, value) in Self.describe(validated, configFile: options.configFile(env), environment: env) {
            print("\(key.padding(toLength: 20, withPad: " ", startingAt: 0)) \(value)")
        }
        guard connect else {
            print("configuration OK")
            return
        }
        var logger = Logger(label: "legate.check") { _ in SwiftLogNoOpLogHandler() }
        logger.logLevel = .critical
        do {
            let outcome = try await ConnectionCheck.register(validated, logger: logger)
            let r = outcome.response
            print("configuration OK")
            print(
                "connected: registered with \(validated.manager.baseURL) as \(r.delegateId) in \(outcome.elapsed.milliseconds) ms (heartbeat \(r.heartbeatIntervalMs) ms, session until \(r.sessionExpiresAt.ISO8601Format()))"
            )
        } catch let e as any LegateError {
            FileHandle.standardError.write(Data("legate: error: cannot register with \(validated.manager.baseURL): \(e.message) [\(e.code)]\n".utf8))
            Foundation.exit(e.code == "token_revoked" ? 3 : 2)
        }
    }

    /// The effective settings, one per line, with where the token comes from but never its value.
    static func describe(_ v: AgentConfiguration.Validated, configFile: String?, environment env: [String: String]) -> [(String, String)] {
        let c = v.raw
        let token: String
        if let file = c.tokenFile {
            token = "from file \(file) (\(v.token.unsafeValue.count) characters)"
        } else if env["LEGATE_TOKEN"].map({ !$0.isEmpty }) == true, c.token != nil {
            token = "from LEGATE_TOKEN (\(v.token.unsafeValue.count) characters)"
        } else {
            token = "inline in the configuration file (\(v.token.unsafeValue.count) characters; prefer token_file)"
        }
        let proxy: String
        if let p = v.proxy {
            proxy = "http://\(p.username.map { "\($0):***@" } ?? "")\(p.host):\(p.port) (CONNECT)"
        } else if let set = c.httpsProxy, !set.isEmpty {
            proxy = "none (no_proxy exempts \(v.manager.host))"
        } else {
            proxy = "none"
        }
        return [
            ("config file", configFile ?? "none (environment and flags only)"),
            ("manager_url", "\(v.manager.baseURL)\(v.manager.secure ? "" : " (plain http: loopback only)")"),
            ("token", token),
            ("name", c.name),
            ("tags", c.tags.isEmpty ? "none" : c.tags.joined(separator: ", ")),
            ("capacity", "\(c.capacity)"),
            ("state_dir", "\(c.stateDirectory) (\(Self.stateDirectoryNote(c.stateDirectory)))"),
            ("ca_file", c.caFile ?? "none (system roots only)"),
            ("client certificate", c.clientCertificateFile.map { "\($0) with key \(c.clientKeyFile ?? "?")" } ?? "none"),
            ("https_proxy", proxy),
            ("drain_grace_seconds", "\(Int(c.drainGrace.seconds))"),
            ("log", "\(c.logLevel), \(c.logFormat)"),
            ("metrics_listen", v.metrics.map { "http://\($0)/metrics" } ?? "off"),
        ]
    }

    /// Whether this user could use the state directory (the service user may differ: run the
    /// check as that user for a definite answer).
    static func stateDirectoryNote(_ path: String) -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { return "WARNING: exists but is not a directory" }
            return access(path, W_OK | X_OK) == 0 ? "exists, writable by this user" : "WARNING: not writable by this user"
        }
        let parent = (path as NSString).deletingLastPathComponent
        return access(parent, W_OK | X_OK) == 0 ? "will be created" : "WARNING: does not exist and \(parent) is not writable by this user"
    }
}
