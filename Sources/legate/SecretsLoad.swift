import ArgumentParser
import Foundation
import LegateAgent
import LegateCore
import LegateCrypto
import LegateLoader
import Logging
import ServiceLifecycle

/// `legate secrets-load`: the init-container secrets loader (seed 004), and with `--watch` a
/// supervisor that keeps a command's secrets current. docs/loader.md has the whole contract.
struct SecretsLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets-load",
        abstract: "Load a service's secrets from Vault into <output>/.env and <output>/files/ (the init-container loader).",
        discussion: """
            Reads global.externalSecretsLoader from Helm-style values files (keys: enabled, provider, vault.address, \
            vault.engine, vault.basePath, vault.auth.{method,role,serviceAccount,token}, \
            databases.<db>.{useDatabaseSecretsEngine,databaseRole,engine,overridePath}), logs in to Vault \
            (kubernetes, token or approle), reads <engine>/<basePath>/<service>/env-secrets and .../file-secrets, \
            creates database credentials, and writes <output>/.env (0600) and <output>/files/<name> (0600, directories \
            0700) in one atomic swap. Keys ending in .crt .pem .key .jks .p12 are files; .jks and .p12 values are \
            stored base64. Database credentials appear as <DB>_USERNAME and <DB>_PASSWORD (static ones: <DB>_<KEY>).

            Read .env with: set -a; . /opt/harness/secrets/.env; set +a

            Environment: VAULT_TOKEN (token auth when vault.auth.token is absent), VAULT_ROLE_ID and \
            VAULT_SECRET_ID (approle, unless --role-id-file/--secret-id-file), VAULT_NAMESPACE, VAULT_CACERT, \
            HTTPS_PROXY and NO_PROXY.

            With --watch, runs the command after --, with the secrets in its environment, renews database leases \
            and the Vault token, polls Vault every --interval seconds, rewrites the output when anything changed and \
            restarts the command (or sends --on-change signal:NAME); when a lease cannot be renewed, new credentials \
            are created and the command restarted before the old ones expire. SIGTERM/SIGINT are forwarded and the \
            loader exits with the command's status.

            Exit status: 0 loaded; 2 values or flags are wrong; 3 bad auth (token, role, service account); \
            4 permission denied (policy); 5 secret not found; 6 Vault unreachable (connection refused, no such host, \
            timeout, TLS); 7 the output cannot be written; 8 other Vault failure; 9 the command cannot be started; \
            64 usage. With --watch, once the command runs: the command's exit status.

            Reference: docs/loader.md (values keys, .env quoting, troubleshooting messages, --watch).
            """)

    @Option(name: [.customLong("values"), .customShort("f")], help: "A Helm values file; repeat for more (later files override earlier ones, like helm -f).")
    var values: [String] = []

    @Option(help: "The service whose secrets to load: <engine>/<basePath>/<service>/env-secrets and file-secrets.")
    var service: String

    @Option(help: "Output directory for .env and files/.")
    var output = "/opt/harness/secrets"

    @Option(help: "Kubernetes auth: the service-account token file.")
    var serviceAccountTokenFile = LoaderRequest.defaultTokenFile

    @Option(help: "The auth method's mount (default: kubernetes or approle).")
    var authMount: String?

    @Option(help: "The database secrets engine mount for dynamic credentials.")
    var databaseMount = "database"

    @Option(help: "AppRole: a file holding the role_id (default: VAULT_ROLE_ID).")
    var roleIdFile: String?

    @Option(help: "AppRole: a file holding the secret_id (default: VAULT_SECRET_ID).")
    var secretIdFile: String?

    @Option(name: .customLong("database"), help: "Load only this database of databases (repeatable; default: all).")
    var databases: [String] = []

    @Option(help: "A PEM file with the CA that signed Vault's certificate (default: VAULT_CACERT, then the system roots).")
    var caFile: String?

    @Flag(help: "Keep running: supervise the command after --, renew leases and reload on change.")
    var watch = false

    @Option(help: "With --watch: seconds between polls of Vault for changed secrets.")
    var interval: Double = 30

    @Option(help: "With --watch: what a change does to the command: restart, or signal:NAME (HUP, USR1, USR2, ...).")
    var onChange = "restart"

    @Option(help: "With --watch: seconds a stopping command gets before SIGKILL.")
    var stopTimeout: Double = 10

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    @Option(help: "Log format: text or json.")
    var logFormat = "text"

    @Argument(parsing: .postTerminator, help: "With --watch: the command to run, after --.")
    var command: [String] = []

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let logger: Logger
        let settings: LoaderSettings
        let request: LoaderRequest
        let supervision: SecretsSupervisor.Settings?
        let transport: ProviderHTTPClient
        do {
            logger = try LogSetup.bootstrap(level: logLevel, format: logFormat, label: "legate.secrets-load")
            supervision = try supervisionSettings()
            settings = try LoaderSettings.from(try HelmValues.load(files: values))
            request = try makeRequest(env)
            var agent = AgentConfiguration()
            agent.caFile = caFile ?? env["VAULT_CACERT"].flatMap { $0.isEmpty ? nil : $0 }
            agent.httpsProxy = env["HTTPS_PROXY"] ?? env["https_proxy"]
            agent.noProxy = env["NO_PROXY"] ?? env["no_proxy"]
            transport = try ProviderHTTPClient(configuration: agent)
        } catch let e as LoaderError {
            exit(e)
        } catch let e as any LegateError {
            exit(LoaderError(.configuration, code: e.code, e.message))
        }
        if let url = URLComponents(string: settings.vault.address), url.scheme?.lowercased() == "http", let host = url.host,
            !(host == "localhost" || host.hasPrefix("127.") || host == "::1")
        {
            logger.warning(
                "vault.address uses plain http: the Vault token and the secrets travel unencrypted; use https outside a trusted cluster network",
                metadata: ["address": "\(settings.vault.address)"])
        }

        let files = values.joined(separator: ", ")
        let out = OutputDirectory(path: output)
        let loader: SecretsLoader
        let snapshot: SecretSnapshot
        do {
            loader = try await SecretsLoader.connect(settings: settings, request: request, transport: transport, valuesFiles: files, logger: logger)
            logger.info("logged in to Vault", metadata: ["address": "\(settings.vault.address)", "auth": "\(loader.authDescription)"])
            snapshot = try await loader.load()
            do {
                let rendered = try snapshot.render()
                try out.publish(env: rendered.env.bytes, files: rendered.files)
                if !rendered.env.shellOnlyNames.isEmpty {
                    logger.notice(
                        "these values need shell escapes: sh reads them exactly, compose-style .env readers may not (see docs/loader.md)",
                        metadata: ["variables": "\(rendered.env.shellOnlyNames.joined(separator: ","))"])
                }
                logger.info(
                    "wrote the secrets",
                    metadata: [
                        "service": "\(service)", "output": "\(out.path)", "variables": "\(rendered.environment.count)", "files": "\(rendered.files.count)",
                        "database_leases": "\(snapshot.leases.count)",
                    ])
            } catch {
                // Nothing was written: credentials created for this run would only linger.
                for l in snapshot.leases { await loader.revoke(l) }
                throw error
            }
        } catch {
            await transport.shutdown()
            exit(error)
        }

        guard let supervision else {
            await transport.shutdown()
            return
        }
        let supervisor = SecretsSupervisor(
            loader: loader, output: out, initial: snapshot, command: command, environment: env, settings: supervision, logger: logger)
        // The supervisor handles SIGTERM/SIGINT itself (it forwards them), so the group traps none.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup)], gracefulShutdownSignals: [],
                cancellationSignals: [], logger: logger))
        do {
            try await group.run()
        } catch {
            await transport.shutdown()
            exit((error as? LoaderError) ?? LoaderError(.command, code: "loader_supervisor", "The supervisor stopped: \(error)"))
        }
        await transport.shutdown()
        Foundation.exit(supervisor.exitStatus ?? 1)
    }

    func supervisionSettings() throws(LoaderError) -> SecretsSupervisor.Settings? {
        guard watch else {
            if !command.isEmpty {
                throw LoaderError(.configuration, code: "loader_command_without_watch", "A command after -- runs only with --watch; add --watch or drop the command.")
            }
            return nil
        }
        guard !command.isEmpty else {
            throw LoaderError(.configuration, code: "loader_watch_command", "--watch needs the command to supervise after --, e.g. --watch -- /app/start.")
        }
        guard interval >= 0.5, interval.isFinite else {
            throw LoaderError(.configuration, code: "loader_interval", "--interval \(interval) is too short; give at least 0.5 seconds.")
        }
        guard stopTimeout >= 0, stopTimeout.isFinite else {
            throw LoaderError(.configuration, code: "loader_stop_timeout", "--stop-timeout must be a number of seconds, 0 or more.")
        }
        return .init(
            interval: .milliseconds(Int64(interval * 1000)), onChange: try ChangeAction.parse(onChange), stopTimeout: .milliseconds(Int64(stopTimeout * 1000)))
    }

    func makeRequest(_ env: [String: String]) throws -> LoaderRequest {
        func nonEmpty(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }
        let roleId = try roleIdFile.map { try FileIO.readText($0, what: "the AppRole role_id file").trimmingCharacters(in: .whitespacesAndNewlines) }
        let secretId = try secretIdFile.map { SecretBytes(utf8: try FileIO.readText($0, what: "the AppRole secret_id file").trimmingCharacters(in: .whitespacesAndNewlines)) }
        let source = [roleIdFile.map { "file \($0)" } ?? "VAULT_ROLE_ID", secretIdFile.map { "file \($0)" } ?? "VAULT_SECRET_ID"].joined(separator: " and ")
        return LoaderRequest(
            service: service, serviceAccountTokenFile: serviceAccountTokenFile, authMount: authMount, databaseMount: databaseMount,
            token: nonEmpty(env["VAULT_TOKEN"]).map { SecretBytes(utf8: $0) }, roleId: roleId ?? nonEmpty(env["VAULT_ROLE_ID"]),
            secretId: secretId ?? nonEmpty(env["VAULT_SECRET_ID"]).map { SecretBytes(utf8: $0) }, appRoleSource: source,
            namespace: nonEmpty(env["VAULT_NAMESPACE"]), databases: databases.isEmpty ? nil : databases)
    }

    /// Prints the operator-facing message and exits with the failure's own status.
    func exit(_ error: any Error) -> Never {
        let e = (error as? LoaderError) ?? LoaderError(.vault, code: "loader_failed", "\(error)")
        FileHandle.standardError.write(Data("legate secrets-load: error: \(e.message) [\(e.code)]\n".utf8))
        Foundation.exit(e.exitStatus)
    }
}
