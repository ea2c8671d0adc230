import Foundation
import LegateCrypto

/// The `global.externalSecretsLoader` block of the Helm values, typed and checked, with exactly the
/// keys of the seed (docs/loader.md): `enabled`, `provider`, `vault.{address, engine, basePath,
/// auth.{method, role, serviceAccount, token}}` and `databases.<db>.{useDatabaseSecretsEngine,
/// databaseRole, engine, overridePath}`. An unknown key inside the block is an error naming it.
public struct LoaderSettings: Sendable {
    /// The Vault auth methods the loader supports.
    public enum AuthMethod: String, Sendable, CaseIterable {
        case kubernetes, token, approle
    }

    public struct Auth: Sendable {
        public var method: AuthMethod
        /// Kubernetes: the Vault role to log in as. AppRole: the role's name, for messages only.
        public var role: String?
        /// Kubernetes: the loader's service account; checked against the mounted token's claims.
        public var serviceAccount: String?
        /// Token auth: the token written in the values file (VAULT_TOKEN is used when absent).
        public var token: SecretBytes?
        /// Where `auth` was written, for messages.
        public var location: HelmValues.Location
    }

    public struct Vault: Sendable {
        public var address: String
        /// The KV mount holding env-secrets and file-secrets (default `secret`).
        public var engine: String
        /// The path inside the mount before `<service>` (may be empty).
        public var basePath: String
        public var auth: Auth
    }

    /// One entry of `databases`.
    public struct Database: Sendable, Equatable {
        public var name: String
        /// Dynamic credentials from `<database mount>/creds/<databaseRole>`.
        public var useDatabaseSecretsEngine: Bool
        public var databaseRole: String?
        /// Static credentials: the KV mount (default: `vault.engine`).
        public var engine: String?
        /// Static credentials: the path inside that mount (default: `<basePath>/<name>`).
        public var overridePath: String?
        public var location: HelmValues.Location
    }

    public var provider: String
    public var vault: Vault
    /// Sorted by name.
    public var databases: [Database]
    /// Where the block was found, for messages.
    public var location: HelmValues.Location

    static let blockPath = ["global", "externalSecretsLoader"]
    static let dottedBlock = blockPath.joined(separator: ".")

    /// Reads and checks the block from merged values.
    public static func from(_ values: HelmValues) throws(LoaderError) -> LoaderSettings {
        let files = values.files.joined(separator: ", ")
        guard let blockValue = values.value(at: blockPath) else {
            throw .configuration(
                "loader_block_missing", "No \(dottedBlock) block in \(files). Add it as in docs/loader.md (enabled, provider, vault.address, vault.auth).")
        }
        let block = try Section(blockValue, path: dottedBlock)
        try block.check(allowed: ["enabled", "provider", "vault", "databases"])
        guard let enabled = try block.bool("enabled") else {
            throw .configuration("loader_disabled", "\(block.here): \(dottedBlock).enabled is not set; set enabled: true to load secrets.")
        }
        guard enabled else {
            throw .configuration(
                "loader_disabled", "\(block.at("enabled")): \(dottedBlock).enabled is false: nothing to load. Set enabled: true, or do not run the loader.")
        }
        let provider = try block.string("provider") ?? "vault"
        guard provider == "vault" else {
            throw .configuration(
                "loader_provider", "\(block.at("provider")): provider '\(provider)' is not supported; the loader supports provider: vault only.")
        }

        guard let v = try block.section("vault") else {
            throw .configuration("loader_vault_missing", "\(block.here): \(dottedBlock).vault is missing; give vault.address and vault.auth.")
        }
        try v.check(allowed: ["address", "engine", "basePath", "auth"])
        guard let address = try v.string("address") else {
            throw .configuration("loader_address_missing", "\(v.here): \(v.path).address is missing; give Vault's URL, e.g. https://vault.vault.svc:8200.")
        }
        try checkAddress(address, at: v.at("address"))
        let engine = trimSlashes(try v.string("engine") ?? "secret")
        guard !engine.isEmpty else {
            throw .configuration("loader_engine", "\(v.at("engine")): \(v.path).engine is empty; give the KV mount, e.g. secret.")
        }
        let basePath = trimSlashes(try v.string("basePath") ?? "")

        guard let a = try v.section("auth") else {
            throw .configuration("loader_auth_missing", "\(v.here): \(v.path).auth is missing; give auth.method (kubernetes, token or approle).")
        }
        try a.check(allowed: ["method", "role", "serviceAccount", "token"])
        let methods = AuthMethod.allCases.map(\.rawValue).joined(separator: ", ")
        guard let methodName = try a.string("method") else {
            throw .configuration("loader_auth_method", "\(a.here): \(a.path).method is missing; use one of \(methods).")
        }
        guard let method = AuthMethod(rawValue: methodName.lowercased()) else {
            throw .configuration("loader_auth_method", "\(a.at("method")): \(a.path).method '\(methodName)' is not one of \(methods).")
        }
        let auth = Auth(
            method: method, role: try a.string("role"), serviceAccount: try a.string("serviceAccount"),
            token: try a.string("token").map { SecretBytes(utf8: $0) }, location: a.here)
        if method == .kubernetes, auth.role == nil {
            throw .configuration(
                "loader_auth_role", "\(a.here): \(a.path).method is kubernetes but \(a.path).role is missing; give the Vault Kubernetes auth role.")
        }

        var databases: [Database] = []
        if let dbs = try block.section("databases") {
            for (name, _) in dbs.entries {
                guard let d = try dbs.section(name) else { continue }
                try d.check(allowed: ["useDatabaseSecretsEngine", "databaseRole", "engine", "overridePath"])
                let db = Database(
                    name: name, useDatabaseSecretsEngine: try d.bool("useDatabaseSecretsEngine") ?? false, databaseRole: try d.string("databaseRole"),
                    engine: try d.string("engine").map(trimSlashes), overridePath: try d.string("overridePath").map(trimSlashes), location: d.here)
                if db.useDatabaseSecretsEngine, db.databaseRole == nil {
                    throw .configuration(
                        "loader_database_role",
                        "\(d.here): \(d.path).useDatabaseSecretsEngine is true but databaseRole is missing; give the Vault database role.")
                }
                guard DotEnv.isValidName(DotEnv.databasePrefix(name) + "_USERNAME") else {
                    throw .configuration(
                        "loader_database_name", "\(d.here): database name '\(name)' cannot form environment variable names; use letters, digits, '-' or '_'.")
                }
                databases.append(db)
            }
        }
        return LoaderSettings(
            provider: provider, vault: Vault(address: address, engine: engine, basePath: basePath, auth: auth),
            databases: databases.sorted { $0.name < $1.name }, location: block.here)
    }

    static func trimSlashes(_ s: String) -> String { s.trimmingCharacters(in: CharacterSet(charactersIn: "/")) }

    static func checkAddress(_ address: String, at location: HelmValues.Location) throws(LoaderError) {
        guard let u = URLComponents(string: address), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = u.host, !host.isEmpty
        else {
            throw .configuration(
                "loader_address", "\(location): vault.address '\(address)' is not an http(s) URL; give Vault's URL, e.g. https://vault.vault.svc:8200.")
        }
    }
}

/// A mapping inside the block, with strict key checking and typed getters whose errors point at
/// the file and line.
struct Section {
    let entries: [(key: String, value: HelmValues.Value)]
    let path: String
    let here: HelmValues.Location

    init(_ value: HelmValues.Value, path: String) throws(LoaderError) {
        guard case .mapping(let entries, let location) = value else {
            throw .configuration("loader_values_shape", "\(value.location): \(path) must be a mapping of keys, not a single value or a list.")
        }
        self.entries = entries
        self.path = path
        self.here = location
    }

    func at(_ key: String) -> HelmValues.Location { entries.first { $0.key == key }?.value.location ?? here }

    /// Fails on the first key not in `allowed`, naming it and listing the known ones.
    func check(allowed: [String]) throws(LoaderError) {
        for (key, value) in entries where !allowed.contains(key) {
            let hint = allowed.first { $0.lowercased() == key.lowercased() }.map { " (did you mean '\($0)'?)" } ?? ""
            throw .configuration(
                "loader_unknown_key",
                "\(value.location): unknown key '\(key)' in \(path)\(hint); the keys there are: \(allowed.joined(separator: ", ")).")
        }
    }

    /// A scalar as text; nil when absent, null or empty (the seed writes "" for "not set").
    func string(_ key: String) throws(LoaderError) -> String? {
        guard let value = entries.first(where: { $0.key == key })?.value else { return nil }
        switch value {
        case .null: return nil
        case .scalar(let s, _, _):
            let t = s.trimmingCharacters(in: .whitespaces)
            return t.isEmpty ? nil : t
        case .mapping, .sequence:
            throw .configuration("loader_values_shape", "\(value.location): \(path).\(key) must be a single value, not a mapping or list.")
        }
    }

    /// true/false, written bare or quoted (the seed writes "true").
    func bool(_ key: String) throws(LoaderError) -> Bool? {
        guard let s = try string(key) else { return nil }
        switch s.lowercased() {
        case "true": return true
        case "false": return false
        default:
            throw .configuration("loader_values_bool", "\(at(key)): \(path).\(key) is '\(s)'; use true or false.")
        }
    }

    func section(_ key: String) throws(LoaderError) -> Section? {
        guard let value = entries.first(where: { $0.key == key })?.value else { return nil }
        if case .null = value { return nil }
        return try Section(value, path: "\(path).\(key)")
    }
}
