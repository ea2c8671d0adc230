import ArgumentParser
import AsyncHTTPClient
import Foundation
import LegateCore
import LegateManager
import LegateWire
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle

@main
struct LegateManagerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "legate-manager",
        abstract: "Reference manager for Legate delegates: queues tasks, holds ciphertext only.",
        subcommands: [
            Serve.self, TokenCommand.self, TaskCommand.self, DelegateCommand.self, ConnectorCommand.self, SecretCommand.self,
            AuditCommand.self, StreamsCommand.self,
        ])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the manager (HTTPS + WebSocket) until SIGTERM.")

    @Option(help: "State directory (database, keys, generated TLS files).")
    var stateDir: String = ProcessInfo.processInfo.environment["LEGATE_MANAGER_STATE_DIR"] ?? "/var/lib/legate-manager"
    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 8443
    @Option(help: "PEM server certificate (with --tls-key); default: a generated development CA + certificate.")
    var tlsCert: String?
    @Option(help: "PEM server private key.")
    var tlsKey: String?
    @Option(help: "Require agents to present a client certificate signed by this PEM CA (mTLS).")
    var clientCa: String?
    @Option(help: "Extra host name or IP for the generated certificate (repeatable).")
    var certHostname: [String] = []
    @Option(help: "Heartbeat interval in seconds announced to agents.")
    var heartbeatInterval: Double = 5
    @Option(help: "Missed heartbeats before a delegate is declared lost.")
    var lostAfter: Int = 3
    @Option(help: "Long-poll wait announced to agents, in seconds (max 30).")
    var pollWait: Double = 10
    @Option(help: "Session token lifetime in seconds.")
    var sessionTtl: Int = 1800
    @Flag(help: "Enable the stream policy switch (PUT /api/v1/admin/streams) for fault drills.")
    var faultInjection = false
    @Option(help: "Write the bound port to this file once listening (for scripts and tests).")
    var portFile: String?
    @Option(help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"
    @Option(help: "text or json.")
    var logFormat: String = "text"

    func run() async throws {
        let logger: Logger
        do { logger = try LogSetup.bootstrap(level: logLevel, format: logFormat, label: "legate-manager") } catch let e as any LegateError {
            fail(e)
        }
        guard heartbeatInterval >= 0.1, heartbeatInterval <= 600 else { fail(ConfigurationError("--heartbeat-interval must be between 0.1 and 600 seconds.")) }
        guard (1...100).contains(lostAfter) else { fail(ConfigurationError("--lost-after must be between 1 and 100.")) }
        guard pollWait >= 0.1, pollWait <= 30 else { fail(ConfigurationError("--poll-wait must be between 0.1 and 30 seconds.")) }
        guard sessionTtl >= 10 else { fail(ConfigurationError("--session-ttl must be at least 10 seconds.")) }
        var config = ManagerConfiguration(stateDirectory: stateDir)
        config.host = host
        config.port = port
        config.tlsCertificate = tlsCert
        config.tlsKey = tlsKey
        config.clientCA = clientCa
        config.certificateHostnames = certHostname
        config.settings.heartbeatInterval = .milliseconds(Int64(heartbeatInterval * 1000))
        config.settings.lostAfterMissed = lostAfter
        config.settings.pollInterval = .milliseconds(Int64(pollWait * 1000))
        config.settings.sessionTTL = .seconds(sessionTtl)
        config.settings.faultInjection = faultInjection
        let runtime: ManagerRuntime
        do { runtime = try await ManagerRuntime.make(config, logger: logger) } catch let e as any LegateError {
            fail(e)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: runtime.services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let bound = await runtime.port()
            var meta: Logger.Metadata = ["url": "https://\(host == "127.0.0.1" ? "localhost" : host):\(bound)", "admin_key_file": "\(runtime.adminKeyPath)"]
            if let ca = runtime.caCertificatePath { meta["ca_file"] = "\(ca)" }
            logger.notice("manager listening; agents must trust ca_file", metadata: meta)
            if let portFile { try FileIO.write("\(bound)\n", to: portFile, mode: 0o644) }
            try await tasks.waitForAll()
        }
    }
}

func fail(_ error: any LegateError) -> Never {
    FileHandle.standardError.write(Data("legate-manager: error: \(error.message) [\(error.code)]\n".utf8))
    Foundation.exit(1)
}

// MARK: Admin client commands

/// How admin commands reach the manager.
struct AdminOptions: ParsableArguments {
    @Option(help: "Manager URL (default: $LEGATE_MANAGER_URL or https://localhost:8443).")
    var url: String?
    @Option(help: "State directory of a local manager, to find admin.key and tls/ca.pem.")
    var stateDir: String = ProcessInfo.processInfo.environment["LEGATE_MANAGER_STATE_DIR"] ?? "/var/lib/legate-manager"
    @Option(help: "File with the admin API key (default: <state-dir>/admin.key; or $LEGATE_ADMIN_KEY).")
    var apiKeyFile: String?
    @Option(help: "PEM CA to trust for the manager (default: <state-dir>/tls/ca.pem when present).")
    var caFile: String?
    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func client() throws -> AdminClient {
        let env = ProcessInfo.processInfo.environment
        let base = url ?? env["LEGATE_MANAGER_URL"] ?? "https://localhost:8443"
        let key: String
        if let k = env["LEGATE_ADMIN_KEY"], apiKeyFile == nil {
            key = k
        } else {
            key = try FileIO.readText(apiKeyFile ?? stateDir + "/admin.key", what: "admin API key").trimmingWhitespace()
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        let ca = caFile ?? (FileManager.default.fileExists(atPath: stateDir + "/tls/ca.pem") ? stateDir + "/tls/ca.pem" : nil)
        if let ca {
            do { tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(ca))] } catch {
                throw ConfigurationError(code: "tls_configuration", "Cannot read CA file \(ca): \(error).")
            }
        }
        return AdminClient(base: base.hasSuffix("/") ? String(base.dropLast()) : base, key: Redacted(key), tls: tls)
    }
}

/// A small client for the admin API.
struct AdminClient {
    let base: String
    let key: Redacted<String>
    let http: HTTPClient

    init(base: String, key: Redacted<String>, tls: TLSConfiguration) {
        self.base = base
        self.key = key
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    func call<R: Decodable>(_ method: HTTPMethod, _ path: String, body: (any Encodable)? = nil, as: R.Type) async throws -> R? {
        do {
            let r = try await send(method, path, body: body, as: R.self)
            try? await http.shutdown()
            return r
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    private func send<R: Decodable>(_ method: HTTPMethod, _ path: String, body: (any Encodable)?, as: R.Type) async throws -> R? {
        var req = HTTPClientRequest(url: base + WireProtocol.apiPrefix + "/admin" + path)
        req.method = method
        req.headers.add(name: "Authorization", value: "Bearer " + key.unsafeValue)
        if let body {
            req.headers.add(name: "Content-Type", value: "application/json")
            req.body = .bytes(ByteBuffer(bytes: try WireCoding.encode(body)))
        }
        let resp: HTTPClientResponse
        let data: Data
        do {
            // Secret operations wait on delegates (up to 30 s per task; rewrap runs one per secret).
            resp = try await http.execute(req, timeout: .seconds(600))
            data = Data(try await resp.body.collect(upTo: 64 << 20).readableBytesView)
        } catch {
            throw ConfigurationError(code: "unreachable", "Cannot reach the manager at \(base): \(error). Check --url and --ca-file.")
        }
        guard (200..<300).contains(resp.status.code) else {
            let e = try? WireCoding.decoder().decode(ErrorBody.self, from: data)
            throw ConfigurationError(code: e?.error.code ?? "http_\(resp.status.code)", e?.error.message ?? "HTTP \(resp.status.code)")
        }
        if data.isEmpty { return nil }
        return try WireCoding.decoder().decode(R.self, from: data)
    }
}

func printJSON<T: Encodable>(_ v: T) throws {
    let e = WireCoding.encoder()
    e.outputFormatting.insert(.prettyPrinted)
    e.dateEncodingStrategy = .iso8601
    print(String(decoding: try e.encode(v), as: UTF8.self))
}

func runAdmin(_ body: () async throws -> Void) async {
    do { try await body() } catch let e as any LegateError { fail(e) } catch { fail(ConfigurationError("\(error)")) }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Delegate tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a delegate token; prints it once.")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Name for the token (e.g. the pool it is for).")
        var name: String
        @Option(help: "Write the token to this file (0600) instead of printing it.")
        var output: String?

        func run() async throws {
            await runAdmin {
                guard let t = try await admin.client().call(.POST, "/tokens", body: CreateTokenRequest(name: name), as: CreatedToken.self) else { return }
                if let output {
                    try FileIO.write(t.token + "\n", to: output, mode: 0o600)
                    print("token \(t.id) (\(t.name)) written to \(output)")
                } else if admin.json {
                    try printJSON(t)
                } else {
                    print(t.token)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List delegate tokens (never their values).")
        @OptionGroup var admin: AdminOptions
        func run() async throws {
            await runAdmin {
                let tokens = try await admin.client().call(.GET, "/tokens", as: [TokenView].self) ?? []
                if admin.json { return try printJSON(tokens) }
                for t in tokens { print("\(t.id)\t\(t.name)\t\(t.revokedAt == nil ? "active" : "revoked")") }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: its delegates drain and stop.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Token id (tok_…).")
        var id: String
        func run() async throws {
            await runAdmin {
                _ = try await admin.client().call(.DELETE, "/tokens/\(id)", as: [String: String].self)
                print("revoked \(id)")
            }
        }
    }
}

struct TaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task", abstract: "Tasks.", subcommands: [Create.self, Show.self, List.self, Logs.self, Abort.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue a shell task.")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Shell script to run with /bin/sh -c.")
        var script: String?
        @Option(help: "Selector tag (repeatable); the task runs on a delegate with all of them.")
        var selector: [String] = []
        @Option(help: "Environment variable NAME=VALUE (repeatable).")
        var env: [String] = []
        @Option(help: "Working directory on the delegate.")
        var workdir: String?
        @Option(help: "Timeout in seconds.")
        var timeout: Int?
        @Option(help: "Total attempts; above 1 the task is re-queued if its delegate is lost.")
        var maxAttempts: Int?
        @Option(help: "A name for the task.")
        var name: String?
        @Option(help: "The task's scope (account/org/project); required when it uses <+secrets.getValue(...)>.")
        var scope: String?
        @Argument(parsing: .postTerminator, help: "Command and arguments (after --), instead of --script.")
        var command: [String] = []

        func run() async throws {
            await runAdmin {
                var vars: [String: String] = [:]
                for e in env {
                    guard let eq = e.firstIndex(of: "=") else { throw ConfigurationError("--env '\(e)' must be NAME=VALUE.") }
                    vars[String(e[..<eq])] = String(e[e.index(after: eq)...])
                }
                let spec = ShellSpec(command: command.isEmpty ? nil : command, script: script, env: vars.isEmpty ? nil : vars, workingDirectory: workdir)
                let req = CreateTaskRequest(
                    name: name, shell: spec, selectors: selector, maxAttempts: maxAttempts, timeoutSeconds: timeout, scope: scope)
                guard let t = try await admin.client().call(.POST, "/tasks", body: req, as: TaskView.self) else { return }
                if admin.json { try printJSON(t) } else { print(t.id) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a task, with why it waits if queued.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        func run() async throws {
            await runAdmin {
                guard let t = try await admin.client().call(.GET, "/tasks/\(id)", as: TaskView.self) else { return }
                if admin.json { return try printJSON(t) }
                print("id:        \(t.id)\nstatus:    \(t.status.rawValue)\nattempt:   \(t.attempt)/\(t.maxAttempts)\nselectors: \(t.selectors.joined(separator: ", "))\ndelegate:  \(t.delegateId ?? "-")")
                if let why = t.waitingReason { print("waiting:   \(why)") }
                if let r = t.result { print("outcome:   \(r.outcome.rawValue) exit=\(r.exitCode.map(String.init) ?? "-") \(r.message ?? "")") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tasks.")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Only tasks with this status.")
        var status: String?
        func run() async throws {
            await runAdmin {
                let q = status.map { "?status=\($0)" } ?? ""
                let tasks = try await admin.client().call(.GET, "/tasks\(q)", as: [TaskView].self) ?? []
                if admin.json { return try printJSON(tasks) }
                for t in tasks { print("\(t.id)\t\(t.status.rawValue)\t\(t.delegateId ?? "-")\t\(t.name ?? "")") }
            }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a task's stored output.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        func run() async throws {
            await runAdmin {
                let logs = try await admin.client().call(.GET, "/tasks/\(id)/logs", as: [TaskLogView].self) ?? []
                if admin.json { return try printJSON(logs) }
                for l in logs {
                    if l.stream == .stdout {
                        FileHandle.standardOutput.write(Data(l.data.utf8))
                    } else {
                        FileHandle.standardError.write(Data(l.data.utf8))
                    }
                }
            }
        }
    }

    struct Abort: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Abort a queued or running task.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        func run() async throws {
            await runAdmin {
                guard let t = try await admin.client().call(.POST, "/tasks/\(id)/abort", as: TaskView.self) else { return }
                print("\(t.id)\t\(t.status.rawValue)\tabort requested")
            }
        }
    }
}

struct DelegateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delegate", abstract: "Delegates.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List delegates the manager knows.")
        @OptionGroup var admin: AdminOptions
        func run() async throws {
            await runAdmin {
                let ds = try await admin.client().call(.GET, "/delegates", as: [DelegateView].self) ?? []
                if admin.json { return try printJSON(ds) }
                for d in ds {
                    print("\(d.id)\t\(d.name)\t\(d.status.rawValue)\t\(d.mode?.rawValue ?? "-")\t\(d.running)/\(d.capacity)\t[\(d.tags.joined(separator: ","))]")
                }
            }
        }
    }
}

struct StreamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams", abstract: "Fault drill: open, refuse or silence delegate streams (needs serve --fault-injection).")
    @OptionGroup var admin: AdminOptions
    @Argument(help: "open, refuse or silent.")
    var policy: String
    func run() async throws {
        await runAdmin {
            guard let p = StreamPolicy(rawValue: policy) else { throw ConfigurationError("Policy must be open, refuse or silent.") }
            _ = try await admin.client().call(.PUT, "/streams", body: StreamPolicyRequest(policy: p), as: StreamPolicyRequest.self)
            print("streams: \(p.rawValue)")
        }
    }
}

struct ConnectorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connector", abstract: "Secret managers (connectors).", subcommands: [Create.self, List.self, Validate.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a connector (type builtin: key on the delegates).")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Connector name.")
        var name: String
        @Option(help: "Connector type.")
        var type: String = "builtin"
        @Option(help: "Scope: account, account/org or account/org/project.")
        var scope: String
        @Option(help: "Setting KEY=VALUE (repeatable); builtin: keyRef (default: the name).")
        var set: [String] = []
        @Option(help: "Delegate tag required to use the connector (repeatable).")
        var selector: [String] = []
        @Option(
            help: """
                Credential SETTING=SECRET (repeatable): a built-in secret reference (name, org.name, account.name), \
                e.g. accessKeyId=aws-key-id. See docs/connectors.md for each type's settings.
                """)
        var credential: [String] = []
        static func pairs(_ list: [String], flag: String) throws -> [String: String] {
            var out: [String: String] = [:]
            for e in list {
                guard let eq = e.firstIndex(of: "="), eq != e.startIndex else { throw ConfigurationError("\(flag) '\(e)' must be KEY=VALUE.") }
                out[String(e[..<eq])] = String(e[e.index(after: eq)...])
            }
            return out
        }
        func run() async throws {
            await runAdmin {
                let config = try Self.pairs(set, flag: "--set")
                let credentials = try Self.pairs(credential, flag: "--credential")
                let req = CreateConnectorRequest(
                    name: name, type: type, scope: scope, config: config, selectors: selector, credentials: credentials.isEmpty ? nil : credentials)
                guard let c = try await admin.client().call(.POST, "/connectors", body: req, as: ConnectorView.self) else { return }
                if admin.json { try printJSON(c) } else { print(c.id) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List connectors.")
        @OptionGroup var admin: AdminOptions
        func run() async throws {
            await runAdmin {
                let cs = try await admin.client().call(.GET, "/connectors", as: [ConnectorView].self) ?? []
                if admin.json { return try printJSON(cs) }
                for c in cs { print("\(c.id)\t\(c.scope)/\(c.name)\t\(c.type)\t[\(c.selectors.joined(separator: ","))]") }
            }
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Test a connector from a delegate that may use it.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Connector id or name.")
        var connector: String
        func run() async throws {
            await runAdmin {
                guard let v = try await admin.client().call(.POST, "/connectors/\(connector)/validate", as: ValidationView.self) else { return }
                if admin.json { return try printJSON(v) }
                print(v.ok ? "ok" : "FAILED: \(v.message ?? "")")
                for c in v.checks { print("  - \(c)") }
                if !v.ok { throw ExitCode(1) }
            }
        }
    }
}

struct SecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret", abstract: "Secrets (values are sealed on a delegate; the manager keeps envelopes).",
        subcommands: [Create.self, Update.self, List.self, Delete.self, Rewrap.self, Migrate.self])

    /// Reads a value from a file or stdin; never from the command line (it would show in `ps`).
    static func readValue(_ valueFile: String, file: Bool) throws -> Data {
        let data: Data
        if valueFile == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: valueFile) else {
                throw ConfigurationError("Cannot read --value-file \(valueFile).")
            }
            data = d
        }
        // A trailing newline from `echo` or an editor is almost never part of a text secret.
        var value = data
        if !file, value.last == 0x0A { value.removeLast() }
        return value
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a secret from a file or stdin (--value-file -).")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Secret name.")
        var name: String
        @Option(help: "Scope: account, account/org or account/org/project.")
        var scope: String
        @Option(help: "File holding the value, or - for stdin. The value is never taken from the command line.")
        var valueFile: String?
        @Flag(help: "A file secret (tasks get a 0600 file path instead of the value).")
        var file = false
        @Option(help: "Connector name or id (default: the account's builtin connector).")
        var connector: String?
        @Option(help: "Scope allowed to use the secret (repeatable; default: the secret's scope).")
        var usageScope: [String] = []
        @Option(help: "Secret-store connectors: where the value lives (default <scope>/<name>); without --value-file, an existing value.")
        var path: String?
        func run() async throws {
            await runAdmin {
                guard valueFile != nil || path != nil else {
                    throw ConfigurationError("Give --value-file (or - for stdin), or --path to refer to a value already in a secret store.")
                }
                let value = try valueFile.map { try SecretCommand.readValue($0, file: file) }
                let req = CreateSecretRequest(
                    name: name, scope: scope, kind: file ? .file : .text, connector: connector,
                    usageScopes: usageScope.isEmpty ? nil : usageScope, value: value?.base64EncodedString(), path: path)
                guard let s = try await admin.client().call(.POST, "/secrets", body: req, as: SecretView.self) else { return }
                for w in s.warnings ?? [] { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
                if admin.json { try printJSON(s) } else { print(s.id) }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a new value as the secret's next version (from a file or stdin).")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Secret id.")
        var id: String
        @Option(help: "File holding the value, or - for stdin. For text secrets one trailing newline is dropped.")
        var valueFile: String
        func run() async throws {
            await runAdmin {
                // File secrets are sent byte for byte, text secrets lose one trailing newline.
                let secrets = try await admin.client().call(.GET, "/secrets", as: [SecretView].self) ?? []
                guard let current = secrets.first(where: { $0.id == id }) else {
                    throw ConfigurationError("No secret \(id); `legate-manager secret list` shows the ids.")
                }
                let value = try SecretCommand.readValue(valueFile, file: current.kind == .file)
                let req = UpdateSecretValueRequest(value: value.base64EncodedString())
                guard let s = try await admin.client().call(.PUT, "/secrets/\(id)/value", body: req, as: SecretView.self) else { return }
                if admin.json { try printJSON(s) } else { print("\(s.id) version \(s.version)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List secrets (metadata only).")
        @OptionGroup var admin: AdminOptions
        func run() async throws {
            await runAdmin {
                let ss = try await admin.client().call(.GET, "/secrets", as: [SecretView].self) ?? []
                if admin.json { return try printJSON(ss) }
                for s in ss {
                    let where_ = s.path.map { "at \($0)" } ?? "key v\(s.keyVersion.map(String.init) ?? "-")"
                    print("\(s.id)\t\(s.scope)/\(s.name)\tv\(s.version)\t\(s.kind.rawValue)\t\(s.connectorName ?? s.connectorId)\t\(where_)\t\(s.status)")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a secret.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        func run() async throws {
            await runAdmin {
                _ = try await admin.client().call(.DELETE, "/secrets/\(id)", as: [String: String].self)
                print("deleted \(id)")
            }
        }
    }

    struct Rewrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-wrap every secret of a connector under its newest key version.")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Connector id or name.")
        var connector: String
        func run() async throws {
            await runAdmin {
                guard let r = try await admin.client().call(.POST, "/secrets/rewrap", body: RewrapRequest(connector: connector), as: RewrapResponse.self) else { return }
                if admin.json { return try printJSON(r) }
                print("re-wrapped \(r.rewrapped.count), failed \(r.failed.count)")
                for (id, why) in r.failed { print("  \(id): \(why)") }
                if !r.failed.isEmpty { throw ExitCode(1) }
            }
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a secret to another connector.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        @Option(help: "Target connector id or name.")
        var to: String
        func run() async throws {
            await runAdmin {
                guard let s = try await admin.client().call(.POST, "/secrets/\(id)/migrate", body: MigrateRequest(connector: to), as: SecretView.self) else { return }
                if admin.json { try printJSON(s) } else { print("\(s.id) now in \(s.connectorName ?? s.connectorId)") }
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Show the audit trail of secret and connector operations.")
    @OptionGroup var admin: AdminOptions
    func run() async throws {
        await runAdmin {
            let es = try await admin.client().call(.GET, "/audit", as: [AuditEntry].self) ?? []
            if admin.json { return try printJSON(es) }
            for e in es { print("\(e.at)\t\(e.actor)\t\(e.action)\t\(e.target)\t\(e.detail)") }
        }
    }
}
