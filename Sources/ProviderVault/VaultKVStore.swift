import Foundation
import KeyProviders
import LegateCrypto

/// Vault's KV engine (v1 or v2, detected from the mount or configured) as a secret store. A
/// secret's path is `<basePath>/<path>` in the mount; its value is one key of the KV entry
/// (`valueKey`, default `value`, or the part after `#` in the path: `db/creds#password`), so an
/// entry can also hold other keys that Legate leaves alone.
public struct VaultKVStore: SecretStore {
    let client: VaultClient
    let mount: String
    let basePath: String
    let valueKey: String
    let configuredVersion: Int?
    let readOnly: Bool
    let checkAndSet: Bool
    let detected = VersionBox()

    actor VersionBox {
        var version: Int?
        func set(_ v: Int) { version = v }
    }

    init(client: VaultClient, mount: String, basePath: String, valueKey: String, version: Int?, readOnly: Bool, checkAndSet: Bool) {
        self.client = client
        self.mount = mount.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.basePath = basePath.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.valueKey = valueKey
        self.configuredVersion = version
        self.readOnly = readOnly
        self.checkAndSet = checkAndSet
    }

    /// The KV version: configured, or read from `sys/internal/ui/mounts/<mount>` (allowed to any
    /// token that can use the mount).
    func version() async throws -> Int {
        if let configuredVersion { return configuredVersion }
        if let v = await detected.version { return v }
        let out = try await client.call("GET", "sys/internal/ui/mounts/\(mount)", what: "mount \(mount)/ lookup")
        let data = out["data"] as? [String: Any] ?? [:]
        guard (data["type"] as? String).map({ $0 == "kv" || $0 == "generic" }) ?? true else {
            throw ProviderError.configuration("vault_not_kv", "Mount '\(mount)/' is a \(data["type"] as? String ?? "?") engine, not KV; check the connector's engine.")
        }
        let options = data["options"] as? [String: Any]
        let v = (options?["version"] as? String).flatMap(Int.init) ?? 1
        await detected.set(v)
        return v
    }

    /// Splits `path#key` and prefixes the base path.
    func locate(_ path: String) -> (path: String, key: String) {
        var p = path
        var key = valueKey
        if let hash = p.lastIndex(of: "#") {
            key = String(p[p.index(after: hash)...])
            p = String(p[..<hash])
        }
        p = p.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return (basePath.isEmpty ? p : basePath + "/" + p, key)
    }

    func dataPath(_ p: String, v: Int) -> String { v == 2 ? "\(mount)/data/\(p)" : "\(mount)/\(p)" }

    /// The whole KV entry and its version (v2), or nil when absent.
    func readEntry(_ p: String, version: String? = nil) async throws -> (data: [String: Any], version: Int?)? {
        let v = try await self.version()
        var path = dataPath(p, v: v)
        if v == 2, let version { path += "?version=\(version)" }
        do {
            let out = try await client.call("GET", path, what: "read of \(mount)/\(p)")
            if v == 2 {
                let d = out["data"] as? [String: Any] ?? [:]
                let meta = d["metadata"] as? [String: Any]
                // A deleted latest version reads as data null.
                guard let entry = d["data"] as? [String: Any] else { return nil }
                return (entry, (meta?["version"] as? NSNumber)?.intValue)
            }
            return ((out["data"] as? [String: Any]) ?? [:], nil)
        } catch let e as ProviderError where e.code == "vault_not_found" {
            return nil
        }
    }

    /// The entry's current version from its metadata (0 when it has none), deleted versions included.
    func currentVersion(_ p: String) async throws -> Int {
        do {
            let out = try await client.call("GET", "\(mount)/metadata/\(p)", what: "metadata of \(mount)/\(p)")
            return ((out["data"] as? [String: Any])?["current_version"] as? NSNumber)?.intValue ?? 0
        } catch let e as ProviderError where e.code == "vault_not_found" {
            return 0
        }
    }

    public func get(_ path: String, version: String?) async throws -> SecretBytes {
        let (p, key) = locate(path)
        guard let entry = try await readEntry(p, version: version) else {
            throw ProviderError.permanent("vault_secret_not_found", "Vault has no secret at \(mount)/\(p); check the path, engine and base path.")
        }
        guard let value = entry.data[key] else {
            throw ProviderError.permanent(
                "vault_key_not_found", "The secret at \(mount)/\(p) has no key '\(key)' (keys: \(entry.data.keys.sorted().joined(separator: ", "))).")
        }
        if let s = value as? String {
            if entry.data[key + "_encoding"] as? String == "base64" {
                guard let raw = Data(base64Encoded: s) else {
                    throw ProviderError.permanent("vault_bad_value", "The value at \(mount)/\(p)#\(key) is marked base64 but is not.")
                }
                return SecretBytes(raw)
            }
            return SecretBytes(utf8: s)
        }
        // Non-string JSON values are given as their JSON text.
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])) ?? Data()
        return SecretBytes(data)
    }

    public func put(_ path: String, value: SecretBytes, options: StoreWriteOptions) async throws -> String? {
        guard !readOnly else {
            throw ProviderError.configuration("read_only_connector", "The Vault connector is read-only; \(path) was not written.")
        }
        let (p, key) = locate(path)
        let v = try await self.version()
        let existing = try await readEntry(p)
        var entry = existing?.data ?? [:]
        // KV holds JSON strings: binary (file) values are stored base64 with a marker key.
        if options.binary {
            entry[key] = value.withUnsafeBytes { Data($0).base64EncodedString() }
            entry[key + "_encoding"] = "base64"
        } else {
            guard let text = value.withUnsafeBytes({ String(validating: $0, as: UTF8.self) }) else {
                throw ProviderError.configuration("vault_binary_value", "The value is not UTF-8 text; create it as a file secret.")
            }
            entry[key] = text
            entry[key + "_encoding"] = nil
        }
        if v == 2 {
            var body: [String: Any] = ["data": entry]
            // Check-and-set: our read-modify-write must not overwrite a concurrent change.
            if let version = existing?.version {
                body["options"] = ["cas": version]
            } else if checkAndSet {
                // No readable version: new, or its latest version was deleted (which still counts).
                body["options"] = ["cas": try await currentVersion(p)]
            }
            let out = try await client.call("POST", dataPath(p, v: 2), body: body, what: "write of \(mount)/\(p)")
            let version = ((out["data"] as? [String: Any])?["version"] as? NSNumber)?.intValue
            return version.map(String.init)
        }
        try await client.call("POST", dataPath(p, v: 1), body: entry, what: "write of \(mount)/\(p)")
        return nil
    }

    public func delete(_ path: String) async throws {
        guard !readOnly else {
            throw ProviderError.configuration("read_only_connector", "The Vault connector is read-only; \(path) was not deleted.")
        }
        let (p, key) = locate(path)
        let v = try await self.version()
        guard let existing = try await readEntry(p) else { return }
        var entry = existing.data
        entry[key] = nil
        entry[key + "_encoding"] = nil
        do {
            if entry.isEmpty {
                // Nothing else lives there: remove the entry (v2: every version and its metadata).
                try await client.call("DELETE", v == 2 ? "\(mount)/metadata/\(p)" : dataPath(p, v: 1), what: "delete of \(mount)/\(p)")
            } else if v == 2 {
                try await client.call("POST", dataPath(p, v: 2), body: ["data": entry, "options": ["cas": existing.version ?? 0]], what: "write of \(mount)/\(p)")
            } else {
                try await client.call("POST", dataPath(p, v: 1), body: entry, what: "write of \(mount)/\(p)")
            }
        } catch let e as ProviderError where e.code == "vault_not_found" {
            return
        }
    }

    public func validate() async throws -> ValidationReport {
        let v = try await version()
        var checks = ["KV v\(v) at \(mount)/\(basePath.isEmpty ? "" : basePath + "/")"]
        if let auth = client.auth { checks.insert("auth: \(await auth.methodDescription)", at: 0) }
        // Listing needs `list` on metadata (v2); a denied list is reported, a missing path is fine.
        do {
            try await client.call("LIST", v == 2 ? "\(mount)/metadata/\(basePath)" : "\(mount)/\(basePath)", what: "list of \(mount)/\(basePath)")
            checks.append("list \(basePath.isEmpty ? "/" : basePath): ok")
        } catch let e as ProviderError where e.code == "vault_not_found" {
            checks.append("list \(basePath.isEmpty ? "/" : basePath): empty")
        }
        if let ns = client.namespace { checks.append("namespace \(ns)") }
        checks.append(readOnly ? "read-only connector" : "read-write connector")
        return ValidationReport(ok: true, checks: checks, route: client.auth == nil ? nil : await client.auth?.methodDescription)
    }
}

/// A whole KV entry as Vault returned it, for callers that need every key of an entry (the secrets
/// loader reads `env-secrets`, `file-secrets` and static database credentials this way).
public struct VaultKVEntry: Sendable {
    /// Every key's value: strings as their UTF-8 bytes, other JSON values as their JSON text.
    public var values: [String: SecretBytes]
    /// The entry's version on KV v2 (it grows with every write); nil on KV v1.
    public var version: Int?
    /// The mount's KV version, 1 or 2.
    public var kvVersion: Int
}

extension VaultKVStore {
    /// A read-only store on `mount` (no base path), its KV version detected from the mount on first use.
    public static func reader(client: VaultClient, mount: String) -> VaultKVStore {
        VaultKVStore(client: client, mount: mount, basePath: "", valueKey: "value", version: nil, readOnly: true, checkAndSet: false)
    }

    /// The mount's KV version (1 or 2), detected once.
    public func kvVersion() async throws -> Int { try await version() }

    /// The API path that holds the data of `path` (`<mount>/data/<path>` on KV v2), for messages.
    public func apiPath(of path: String) async throws -> String {
        dataPath(path.trimmingCharacters(in: CharacterSet(charactersIn: "/")), v: try await version())
    }

    /// The whole entry at `path` (inside the mount), or nil when there is none (or its latest KV v2
    /// version is deleted).
    public func entry(_ path: String) async throws -> VaultKVEntry? {
        // No `path#key` splitting here: the caller wants the whole entry.
        let p = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard let found = try await readEntry(p) else { return nil }
        var values: [String: SecretBytes] = [:]
        for (key, value) in found.data {
            if let s = value as? String {
                values[key] = SecretBytes(utf8: s)
            } else {
                let data = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])) ?? Data()
                values[key] = SecretBytes(data)
            }
        }
        return VaultKVEntry(values: values, version: found.version, kvVersion: try await version())
    }
}
