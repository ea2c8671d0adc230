import Foundation
import KeyProviders
import LegateCore
import LegateCrypto
import Logging
import ProviderVault

/// Logs in to Vault as the values file says and reads what one service needs: `env-secrets`,
/// `file-secrets`, static database credentials from KV and dynamic ones from the database engine.
/// Every failure comes back as a ``LoaderError`` of the troubleshooting row it belongs to.
public final class SecretsLoader: Sendable {
    public let settings: LoaderSettings
    public let request: LoaderRequest
    let client: VaultClient
    let handler: VaultAuthHandler
    /// One store per KV mount, so each mount's version is detected once.
    let stores: [String: VaultKVStore]
    let databaseCredentials: VaultDatabaseCredentials
    let context: LoaderStep.Context
    let logger: Logger
    let now: @Sendable () -> Date

    /// Checks the inputs, resolves the Vault host and logs in; an error here is the bad-auth,
    /// unreachable or configuration row.
    public static func connect(
        settings: LoaderSettings, request: LoaderRequest, transport: any HTTPTransport, valuesFiles: String, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws(LoaderError) -> SecretsLoader {
        try LoaderRequest.checkService(request.service)
        let (method, context) = try authMethod(settings, request, valuesFiles: valuesFiles)
        let address = settings.vault.address
        // IPv6 literals may come back in brackets; getaddrinfo wants them bare.
        if let host = URLComponents(string: address)?.host?.trimmingCharacters(in: CharacterSet(charactersIn: "[]")) {
            switch await VaultHostCheck.check(host: host) {
            case .resolved: break
            case .noSuchHost:
                throw LoaderStep.unreachable("no such host", address: address, files: valuesFiles, doing: "resolving '\(host)' (DNS has no such name)")
            case .dnsUnavailable:
                throw LoaderStep.unreachable("cannot connect", address: address, files: valuesFiles, doing: "resolving '\(host)' (DNS did not answer)")
            }
        }
        let handler = VaultAuthHandler(method: method, logger: logger, now: now)
        let client = VaultClient(address: address, namespace: request.namespace, transport: transport, auth: handler)
        await handler.attach(client)
        var mounts = Set([settings.vault.engine])
        for db in settings.databases where !db.useDatabaseSecretsEngine { mounts.insert(db.engine ?? settings.vault.engine) }
        var stores: [String: VaultKVStore] = [:]
        for m in mounts { stores[m] = VaultKVStore.reader(client: client, mount: m) }
        let loader = SecretsLoader(
            settings: settings, request: request, client: client, handler: handler, stores: stores,
            databaseCredentials: VaultDatabaseCredentials(client: client, mount: request.databaseMount), context: context, logger: logger, now: now)
        do {
            _ = try await handler.token()
        } catch {
            throw LoaderStep.login.classify(error, context)
        }
        return loader
    }

    init(
        settings: LoaderSettings, request: LoaderRequest, client: VaultClient, handler: VaultAuthHandler, stores: [String: VaultKVStore],
        databaseCredentials: VaultDatabaseCredentials, context: LoaderStep.Context, logger: Logger, now: @escaping @Sendable () -> Date
    ) {
        self.settings = settings
        self.request = request
        self.client = client
        self.handler = handler
        self.stores = stores
        self.databaseCredentials = databaseCredentials
        self.context = context
        self.logger = logger
        self.now = now
    }

    /// A description of the login for logs and messages (never a credential).
    public var authDescription: String { context.auth }

    static func authMethod(_ s: LoaderSettings, _ r: LoaderRequest, valuesFiles: String) throws(LoaderError) -> (any VaultAuthMethod, LoaderStep.Context) {
        let a = s.vault.auth
        let address = s.vault.address
        switch a.method {
        case .token:
            let fromValues = a.token != nil
            guard let token = a.token ?? r.token, !token.isEmpty else {
                throw .configuration(
                    "loader_token_missing", "\(a.location): vault.auth.method is token but there is no token: set VAULT_TOKEN (preferred) or vault.auth.token.")
            }
            let source = fromValues ? "vault.auth.token in \(a.location.file)" : "VAULT_TOKEN"
            return (
                TokenAuth(token: token),
                .init(
                    address: address, valuesFiles: valuesFiles, auth: "token auth (token from \(source))",
                    authHint: "The token is wrong, expired or revoked: issue a new one (vault token create -policy=...) and update \(source).")
            )
        case .approle:
            let mount = r.authMount ?? "approle"
            guard let roleId = r.roleId, !roleId.isEmpty else {
                throw .configuration(
                    "loader_approle_missing", "\(a.location): vault.auth.method is approle but there is no role_id: set VAULT_ROLE_ID or --role-id-file (and VAULT_SECRET_ID or --secret-id-file).")
            }
            let name = a.role.map { "role '\($0)', " } ?? ""
            return (
                AppRoleAuth(roleId: roleId, secretId: r.secretId, mount: mount),
                .init(
                    address: address, valuesFiles: valuesFiles, auth: "approle auth (auth/\(mount), \(name)role_id from \(r.appRoleSource))",
                    authHint: "Check the role_id and secret_id (a secret_id may have expired or been used up) and that the AppRole exists at auth/\(mount).")
            )
        case .kubernetes:
            let mount = r.authMount ?? "kubernetes"
            let role = a.role ?? ""
            try checkServiceAccount(expected: a.serviceAccount, tokenFile: r.serviceAccountTokenFile, role: role, address: address)
            let sa = a.serviceAccount.map { ", service account '\($0)'" } ?? ""
            return (
                KubernetesAuth(role: role, tokenFile: r.serviceAccountTokenFile, mount: mount),
                .init(
                    address: address, valuesFiles: valuesFiles, auth: "kubernetes auth (auth/\(mount), role '\(role)'\(sa))",
                    authHint: "Check that the role '\(role)' exists at auth/\(mount) and is bound to this pod's service account and namespace (bound_service_account_names, bound_service_account_namespaces).")
            )
        }
    }

    /// The mounted token must exist, and when vault.auth.serviceAccount is set it must belong to
    /// that account: a mismatch is reported before Vault is asked (a clearer bad-auth message).
    static func checkServiceAccount(expected: String?, tokenFile: String, role: String, address: String) throws(LoaderError) {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw LoaderError(
                .badAuth, code: "loader_bad_auth",
                "bad auth: cannot read the service-account token at \(tokenFile) for kubernetes auth (role '\(role)'). Check that the pod mounts its service account token (automountServiceAccountToken), or give the path with --service-account-token-file."
            )
        }
        guard let expected, let actual = serviceAccount(ofJWT: String(decoding: data, as: UTF8.self)) else { return }
        if actual.name != expected {
            throw LoaderError(
                .badAuth, code: "loader_bad_auth",
                "bad auth: the service-account token at \(tokenFile) belongs to service account '\(actual.name)' (namespace '\(actual.namespace)'), but vault.auth.serviceAccount is '\(expected)'. Run the loader under service account '\(expected)', or correct vault.auth.serviceAccount; the Vault role '\(role)' must be bound to it."
            )
        }
    }

    /// The `system:serviceaccount:<namespace>:<name>` subject of a service-account JWT (claims
    /// only; Vault verifies the signature through the TokenReview API).
    static func serviceAccount(ofJWT jwt: String) -> (namespace: String, name: String)? {
        let parts = jwt.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".")
        guard parts.count == 3 else { return nil }
        var b64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let claims = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let sub = claims["sub"] as? String
        else { return nil }
        let fields = sub.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0] == "system", fields[1] == "serviceaccount" else { return nil }
        return (String(fields[2]), String(fields[3]))
    }

    // MARK: reading

    static func join(_ parts: String...) -> String { parts.filter { !$0.isEmpty }.joined(separator: "/") }

    func store(_ mount: String) -> VaultKVStore {
        stores[mount] ?? VaultKVStore.reader(client: client, mount: mount)
    }

    /// One KV entry, nil when absent.
    func read(mount: String, path: String) async throws(LoaderError) -> VaultKVEntry? {
        let kv = store(mount)
        let version: Int
        do { version = try await kv.kvVersion() } catch { throw LoaderStep.mount(mount).classify(error, context) }
        let display = Self.join(mount, path)
        do {
            return try await kv.entry(path)
        } catch {
            throw LoaderStep.read(display: display, mount: mount, path: path, kvVersion: version).classify(error, context)
        }
    }

    /// The service's env-secrets and file-secrets and the static database credentials. At least
    /// one of env-secrets and file-secrets must exist.
    public func fetchKV() async throws(LoaderError) -> (env: [EnvEntry], files: [OutputDirectory.File]) {
        let engine = settings.vault.engine
        let servicePath = Self.join(settings.vault.basePath, request.service)
        let envPath = servicePath + "/env-secrets"
        let filesPath = servicePath + "/file-secrets"
        let envEntry = try await read(mount: engine, path: envPath)
        let fileEntry = try await read(mount: engine, path: filesPath)
        guard envEntry != nil || fileEntry != nil else {
            throw LoaderError(
                .notFound, code: "loader_not_found",
                "secret not found: Vault at \(settings.vault.address) has nothing at \(Self.join(engine, envPath)) nor at \(Self.join(engine, filesPath)). Check that the secrets exist in Vault (re-run the secrets generator if needed) and that the service name '\(request.service)', vault.engine '\(engine)' and vault.basePath '\(settings.vault.basePath)' match their path."
            )
        }
        var env: [EnvEntry] = []
        var files: [String: OutputDirectory.File] = [:]
        func addFile(_ name: String, _ bytes: SecretBytes) throws(LoaderError) {
            if files[name] != nil {
                throw .configuration("loader_file_duplicate", "The file '\(name)' is in both env-secrets and file-secrets of '\(request.service)'; keep one.")
            }
            files[name] = OutputDirectory.File(name: name, bytes: bytes)
        }
        if let e = envEntry {
            let display = Self.join(engine, envPath)
            for key in e.values.keys.sorted() where !FileSecrets.isMarker(key, in: e.values) {
                let value = try FileSecrets.decode(key, in: e.values, at: display)
                if FileSecrets.isFileName(key) {
                    try addFile(key, value)
                } else {
                    env.append(EnvEntry(name: key, value: value, source: display))
                }
            }
        }
        if let f = fileEntry {
            let display = Self.join(engine, filesPath)
            for key in f.values.keys.sorted() where !FileSecrets.isMarker(key, in: f.values) {
                try addFile(key, try FileSecrets.decode(key, in: f.values, at: display))
            }
        }
        for db in selectedDatabases where !db.useDatabaseSecretsEngine {
            let mount = db.engine ?? engine
            let path = db.overridePath ?? Self.join(settings.vault.basePath, db.name)
            guard let entry = try await read(mount: mount, path: path) else {
                throw LoaderError(
                    .notFound, code: "loader_not_found",
                    "secret not found: Vault at \(settings.vault.address) has no static credentials for database '\(db.name)' at \(Self.join(mount, path)). Check that they exist and databases.\(db.name).engine / overridePath in \(context.valuesFiles)."
                )
            }
            let prefix = DotEnv.databasePrefix(db.name)
            for key in entry.values.keys.sorted() where !FileSecrets.isMarker(key, in: entry.values) {
                let name = prefix + "_" + DotEnv.databasePrefix(key)
                env.append(
                    EnvEntry(name: name, value: try FileSecrets.decode(key, in: entry.values, at: Self.join(mount, path)), source: "database '\(db.name)' at \(Self.join(mount, path))"))
            }
        }
        return (env, files.values.sorted { $0.name < $1.name })
    }

    /// The databases this run loads (all, or those named with --database).
    public var selectedDatabases: [LoaderSettings.Database] {
        guard let only = request.databases else { return settings.databases }
        return settings.databases.filter { only.contains($0.name) }
    }

    /// A first full load: KV plus new dynamic credentials for every dynamic database.
    public func load() async throws(LoaderError) -> SecretSnapshot {
        if let only = request.databases {
            for name in only where !settings.databases.contains(where: { $0.name == name }) {
                throw .configuration(
                    "loader_database_unknown", "--database \(name) is not under databases in \(context.valuesFiles) (known: \(settings.databases.map(\.name).joined(separator: ", "))).")
            }
        }
        let (env, files) = try await fetchKV()
        var leases: [DatabaseLease] = []
        for db in selectedDatabases where db.useDatabaseSecretsEngine {
            do {
                leases.append(try await createCredentials(db))
            } catch {
                // The run fails: credentials created for it would only linger until their TTL.
                for l in leases { await revoke(l) }
                throw error
            }
        }
        return SecretSnapshot(env: env, files: files, leases: leases)
    }

    /// New dynamic credentials for `db`.
    public func createCredentials(_ db: LoaderSettings.Database) async throws(LoaderError) -> DatabaseLease {
        let role = db.databaseRole ?? ""
        do {
            let lease = try await databaseCredentials.generate(role: role, now: now())
            return DatabaseLease(database: db.name, role: role, lease: lease)
        } catch {
            throw LoaderStep.createCredentials(database: db.name, role: role, mount: request.databaseMount).classify(error, context)
        }
    }

    /// Renews a lease; the schedule decides from the answer whether to replace it next.
    public func renew(_ l: DatabaseLease) async throws(LoaderError) -> DatabaseLease {
        do {
            let renewed = try await databaseCredentials.renew(l.lease, now: now())
            return LeaseSchedule.renewed(l, to: renewed)
        } catch {
            throw LoaderStep.renew(database: l.database).classify(error, context)
        }
    }

    /// Revokes a lease the command no longer uses; failures are logged, not fatal.
    public func revoke(_ l: DatabaseLease) async {
        do {
            try await databaseCredentials.revoke(l.lease)
        } catch {
            logger.warning(
                "could not revoke old database credentials; they expire with their lease",
                metadata: ["database": "\(l.database)", "error": "\(LoaderStep.renew(database: l.database).classify(error, context).message)"])
        }
    }

    /// Renews or replaces the Vault token when due.
    public func maintainToken() async { await handler.maintain() }

    /// Whether `settings` names a database.
    func database(named name: String) -> LoaderSettings.Database? { settings.databases.first { $0.name == name } }
}
