import Crypto
import Foundation
import LegateCrypto
import ProviderVault

/// Dynamic database credentials the loader holds, with what the schedule needs to know.
public struct DatabaseLease: Sendable {
    /// The database's name in `databases`.
    public var database: String
    public var role: String
    public var lease: VaultLease
    /// What Vault granted at creation: a renewal granting clearly less means max_ttl is near.
    public var firstDuration: TimeInterval
    /// A renewal came back short: replace the credentials instead of renewing again.
    public var capped: Bool

    public init(database: String, role: String, lease: VaultLease) {
        self.database = database
        self.role = role
        self.lease = lease
        self.firstDuration = lease.duration
        self.capped = false
    }

    /// `<DB>_USERNAME` and `<DB>_PASSWORD`.
    var entries: [EnvEntry] {
        let prefix = DotEnv.databasePrefix(database)
        let source = "database '\(database)' (role \(role))"
        return [
            EnvEntry(name: prefix + "_USERNAME", value: lease.username, source: source),
            EnvEntry(name: prefix + "_PASSWORD", value: lease.password, source: source),
        ]
    }
}

/// Everything one load produced: KV values (env-secrets, file-secrets, static database
/// credentials) and dynamic database leases; rendered into `.env` and `files/`.
public struct SecretSnapshot: Sendable {
    /// Variables from KV, in name order.
    public var env: [EnvEntry]
    public var files: [OutputDirectory.File]
    public var leases: [DatabaseLease]

    public init(env: [EnvEntry], files: [OutputDirectory.File], leases: [DatabaseLease]) {
        self.env = env
        self.files = files
        self.leases = leases
    }

    /// Every variable in name order; a name from two sources is an error naming both.
    public func variables() throws(LoaderError) -> [EnvEntry] {
        var all = env
        for l in leases { all += l.entries }
        var seen: [String: String] = [:]
        for e in all {
            if let other = seen[e.name] {
                throw .configuration(
                    "loader_env_duplicate", "\(e.name) comes from both \(other) and \(e.source); rename one of them in Vault or in databases.")
            }
            seen[e.name] = e.source
        }
        return all.sorted { $0.name < $1.name }
    }

    /// The output and a digest of it, so a poll can tell whether anything changed without keeping
    /// or logging the values.
    public struct Rendered: Sendable {
        public var env: DotEnv.Rendered
        public var files: [OutputDirectory.File]
        public var digest: [UInt8]
        /// name → value, for the supervised command's environment.
        public var environment: [String: String]
    }

    public func render() throws(LoaderError) -> Rendered {
        let vars = try variables()
        let env = try DotEnv.render(vars)
        var hash = SHA256()
        env.bytes.withUnsafeBytes { hash.update(bufferPointer: $0) }
        for f in files.sorted(by: { $0.name < $1.name }) {
            hash.update(data: Data(f.name.utf8))
            hash.update(data: [0])
            hash.update(data: withUnsafeBytes(of: UInt64(f.bytes.count).littleEndian) { Data($0) })
            f.bytes.withUnsafeBytes { hash.update(bufferPointer: $0) }
        }
        var environment: [String: String] = [:]
        for v in vars { environment[v.name] = v.value.unsafeUTF8String() ?? "" }
        return Rendered(env: env, files: files, digest: Array(hash.finalize()), environment: environment)
    }
}

/// Which keys are files, and how their values are stored in KV.
public enum FileSecrets {
    /// Extensions that make a key a file secret (the seed's list).
    public static let extensions = [".crt", ".pem", ".key", ".jks", ".p12"]
    /// Binary formats: KV holds strings, so these are always stored base64.
    static let binaryExtensions = [".jks", ".p12"]

    public static func isFileName(_ key: String) -> Bool {
        let k = key.lowercased()
        return extensions.contains { k.hasSuffix($0) && k.count > $0.count }
    }

    /// `<key>_encoding: base64` marks a base64 value (the convention of the Vault driver).
    static func isMarker(_ key: String, in values: [String: SecretBytes]) -> Bool {
        guard key.hasSuffix("_encoding") else { return false }
        return values[String(key.dropLast("_encoding".count))] != nil
    }

    static func isBase64Marked(_ key: String, in values: [String: SecretBytes]) -> Bool {
        values[key + "_encoding"]?.unsafeUTF8String()?.lowercased() == "base64"
    }

    /// The bytes to write for `key`: base64-decoded when marked or binary by extension.
    static func decode(_ key: String, in values: [String: SecretBytes], at path: String) throws(LoaderError) -> SecretBytes {
        guard let value = values[key] else { return SecretBytes([UInt8]()) }
        let binary = binaryExtensions.contains { key.lowercased().hasSuffix($0) }
        guard binary || isBase64Marked(key, in: values) else { return value }
        let decoded: Data? = value.withUnsafeBytes { raw in Data(base64Encoded: Data(raw), options: .ignoreUnknownCharacters) }
        guard let decoded else {
            throw .configuration(
                "loader_file_base64",
                "The value of '\(key)' at \(path) is not base64. Binary files (.jks, .p12, or any key with \(key)_encoding: base64) must be stored base64-encoded in Vault."
            )
        }
        return SecretBytes(decoded)
    }
}
