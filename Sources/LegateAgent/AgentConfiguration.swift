import Foundation
import LegateCore
import Yams

/// Everything `legate run` needs, after merging the YAML file, the environment and the flags
/// (later sources win), validated by ``AgentConfiguration/validated()``.
public struct AgentConfiguration: Sendable {
    public var managerURL: String = ""
    public var token: Redacted<String>?
    public var tokenFile: String?
    public var name: String = AgentConfiguration.defaultHostname()
    public var tags: [String] = []
    public var capacity: Int = 8
    public var stateDirectory: String = "/var/lib/legate"
    public var caFile: String?
    public var clientCertificateFile: String?
    public var clientKeyFile: String?
    public var httpsProxy: String?
    public var noProxy: String?
    /// How long SIGTERM waits for running tasks before aborting them.
    public var drainGrace: Duration = .seconds(60)
    public var logLevel: String = "info"
    public var logFormat: String = "text"
    /// `host:port` (loopback only) for the Prometheus endpoint; nil or empty: no metrics.
    public var metricsListen: String?

    public init() {}

    /// The keys the YAML file accepts (snake_case, as documented in docs/configuration.md).
    public static let fileKeys: [String] = [
        "manager_url", "token", "token_file", "name", "tags", "capacity", "state_dir", "ca_file", "client_cert_file",
        "client_key_file", "https_proxy", "no_proxy", "drain_grace_seconds", "log_level", "log_format",
        "metrics_listen",
    ]

    static func defaultHostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count) == 0 else { return "legate" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Sources

    /// Applies a YAML file. Unknown keys are errors, so a typo never silently falls back to a default.
    public mutating func apply(yamlFile path: String) throws {
        let text = try FileIO.readText(path, what: "configuration file")
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw ConfigurationError(code: "invalid_config_file", "\(path) is not valid YAML: \(error)")
        }
        guard let node else { return }
        guard let mapping = node.mapping else {
            throw ConfigurationError(code: "invalid_config_file", "\(path) must be a YAML mapping of keys to values.")
        }
        for (k, v) in mapping {
            guard let key = k.string else { continue }
            let where_ = "\(path): key '\(key)'"
            func scalar() throws -> String {
                guard let s = v.scalar?.string else {
                    throw ConfigurationError(code: "invalid_config_file", "\(where_) must be a single value.")
                }
                return s
            }
            switch key {
            case "manager_url": managerURL = try scalar()
            case "token":
                token = Redacted(try scalar())
                tokenFile = nil
            case "token_file":
                tokenFile = try scalar()
                token = nil
            case "name": name = try scalar()
            case "tags":
                if let seq = v.sequence {
                    tags = seq.compactMap { $0.scalar?.string }
                } else {
                    tags = Self.splitList(try scalar())
                }
            case "capacity": capacity = try Self.int(try scalar(), where_)
            case "state_dir": stateDirectory = try scalar()
            case "ca_file": caFile = try scalar()
            case "client_cert_file": clientCertificateFile = try scalar()
            case "client_key_file": clientKeyFile = try scalar()
            case "https_proxy": httpsProxy = try scalar()
            case "no_proxy": noProxy = try scalar()
            case "drain_grace_seconds": drainGrace = .seconds(try Self.int(try scalar(), where_))
            case "log_level": logLevel = try scalar()
            case "log_format": logFormat = try scalar()
            case "metrics_listen": metricsListen = try scalar()
            default:
                throw ConfigurationError(
                    code: "unknown_config_key",
                    "\(path): unknown key '\(key)'. Valid keys: \(Self.fileKeys.joined(separator: ", ")).")
            }
        }
    }

    /// Applies `LEGATE_*` variables and the standard proxy variables.
    public mutating func apply(environment env: [String: String]) throws {
        if let v = env["LEGATE_MANAGER_URL"] { managerURL = v }
        // Each layer replaces the token source of the one below; within the environment the file wins.
        if let v = env["LEGATE_TOKEN"], !v.isEmpty {
            token = Redacted(v)
            tokenFile = nil
        }
        if let v = env["LEGATE_TOKEN_FILE"] {
            tokenFile = v
            token = nil
        }
        // systemd LoadCredential= puts the token in $CREDENTIALS_DIRECTORY/token.
        if tokenFile == nil, token == nil, let dir = env["CREDENTIALS_DIRECTORY"] { tokenFile = dir + "/token" }
        if let v = env["LEGATE_NAME"] { name = v }
        if let v = env["LEGATE_TAGS"] { tags = Self.splitList(v) }
        if let v = env["LEGATE_CAPACITY"] { capacity = try Self.int(v, "LEGATE_CAPACITY") }
        if let v = env["LEGATE_STATE_DIR"] { stateDirectory = v }
        if let v = env["LEGATE_CA_FILE"] { caFile = v }
        if let v = env["LEGATE_CLIENT_CERT_FILE"] { clientCertificateFile = v }
        if let v = env["LEGATE_CLIENT_KEY_FILE"] { clientKeyFile = v }
        if let v = env["HTTPS_PROXY"] ?? env["https_proxy"] { httpsProxy = v }
        if let v = env["NO_PROXY"] ?? env["no_proxy"] { noProxy = v }
        if let v = env["LEGATE_DRAIN_GRACE_SECONDS"] { drainGrace = .seconds(try Self.int(v, "LEGATE_DRAIN_GRACE_SECONDS")) }
        if let v = env["LEGATE_LOG_LEVEL"] { logLevel = v }
        if let v = env["LEGATE_LOG_FORMAT"] { logFormat = v }
        if let v = env["LEGATE_METRICS_LISTEN"] { metricsListen = v }
    }

    /// Splits a comma- or space-separated list, dropping empty entries.
    public static func splitList(_ s: String) -> [String] {
        s.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init).filter { !$0.isEmpty }
    }

    static func int(_ s: String, _ where_: String) throws -> Int {
        guard let v = Int(s.trimmingWhitespace()) else {
            throw ConfigurationError("\(where_): '\(s)' is not a whole number.")
        }
        return v
    }

    // MARK: Validation

    /// A checked configuration: URL parsed, token loaded, limits in range.
    public struct Validated: Sendable {
        public var manager: ManagerEndpoint
        public var token: Redacted<String>
        public var raw: AgentConfiguration
        public var proxy: ProxySettings?
        /// The Prometheus endpoint, when enabled.
        public var metrics: MetricsAddress? = nil
    }

    public func validated() throws -> Validated {
        guard !managerURL.isEmpty else {
            throw ConfigurationError(
                code: "missing_manager_url",
                "No manager URL. Set manager_url in the config file, LEGATE_MANAGER_URL, or --manager-url (e.g. https://manager.example:8443).")
        }
        let endpoint = try ManagerEndpoint(managerURL)
        var tokenValue = token?.unsafeValue
        if tokenValue == nil, let tokenFile {
            tokenValue = try FileIO.readText(tokenFile, what: "delegate token file").trimmingWhitespace()
        }
        guard let tokenValue, !tokenValue.isEmpty else {
            throw ConfigurationError(
                code: "missing_token",
                "No delegate token. Put the token from `legate-manager token create` in a 0600 file and set token_file / LEGATE_TOKEN_FILE / --token-file.")
        }
        guard (1...1000).contains(capacity) else {
            throw ConfigurationError("capacity must be between 1 and 1000 (got \(capacity)).")
        }
        let trimmedName = name.trimmingWhitespace()
        guard !trimmedName.isEmpty, trimmedName.count <= 128 else {
            throw ConfigurationError("name must be 1–128 characters.")
        }
        for t in tags { try Selectors.validate(t, what: "Tag") }
        if (clientCertificateFile == nil) != (clientKeyFile == nil) {
            throw ConfigurationError(code: "tls_configuration", "Give both client_cert_file and client_key_file for mTLS, or neither.")
        }
        for (what, path) in [("ca_file", caFile), ("client_cert_file", clientCertificateFile), ("client_key_file", clientKeyFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ConfigurationError(code: "tls_configuration", "\(what) \(path) does not exist or is not readable.")
            }
        }
        guard drainGrace >= .zero else { throw ConfigurationError("drain_grace_seconds must be ≥ 0.") }
        let proxy = try ProxySettings.resolve(httpsProxy: httpsProxy, noProxy: noProxy, for: endpoint.host)
        let metrics = try metricsListen.flatMap { $0.trimmingWhitespace().isEmpty ? nil : try MetricsAddress($0) }
        var raw = self
        raw.name = trimmedName
        return Validated(manager: endpoint, token: Redacted(tokenValue), raw: raw, proxy: proxy, metrics: metrics)
    }
}

/// The manager's base URL, checked: https, or http to a loopback address only.
public struct ManagerEndpoint: Sendable, Equatable {
    public var secure: Bool
    public var host: String
    public var port: Int

    public init(_ url: String) throws {
        guard let u = URLComponents(string: url), let scheme = u.scheme?.lowercased(), let rawHost = u.host, !rawHost.isEmpty else {
            throw ConfigurationError(
                code: "invalid_manager_url", "Manager URL '\(Self.withoutCredentials(url))' is not a valid URL; expected https://host[:port].")
        }
        let host = rawHost.lowercased()
        guard (1...65535).contains(u.port ?? 443) else {
            throw ConfigurationError(code: "invalid_manager_url", "Manager URL port \(u.port ?? 0) is out of range 1–65535.")
        }
        if u.user != nil || u.password != nil {
            throw ConfigurationError(code: "invalid_manager_url", "Manager URL must not contain credentials; use token_file.")
        }
        switch scheme {
        case "https": secure = true
        case "http":
            guard Self.isLoopback(host) else {
                throw ConfigurationError(
                    code: "insecure_manager_url",
                    "Refusing plain http:// to \(host): the token and task data would cross the network unencrypted. Use https:// (plain http is allowed only to loopback).")
            }
            secure = false
        default:
            throw ConfigurationError(code: "invalid_manager_url", "Manager URL scheme '\(scheme)' is not supported; use https://.")
        }
        if secure, Self.isIPLiteral(host) {
            let hint = host.hasPrefix("127.") || host.contains(":") ? " (for this machine use https://localhost)" : ""
            throw ConfigurationError(
                code: "invalid_manager_url",
                "Manager URL uses the IP address \(host); TLS needs a host name the certificate names\(hint). Use a DNS name for the manager.")
        }
        self.host = host
        self.port = u.port ?? (secure ? 443 : 80)
    }

    /// The URL with any `user:password@` part replaced, for error messages.
    static func withoutCredentials(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), let slashes = url.range(of: "//"), slashes.upperBound <= at else { return url }
        return String(url[..<slashes.upperBound]) + "<credentials>@" + String(url[url.index(after: at)...])
    }

    static func isIPLiteral(_ host: String) -> Bool {
        if host.contains(":") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }

    public static func isLoopback(_ host: String) -> Bool { Loopback.isLoopback(host: host) }

    var hostForURL: String { host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host }
    public var baseURL: String { "\(secure ? "https" : "http")://\(hostForURL):\(port)" }
    public var streamBaseURL: String { "\(secure ? "wss" : "ws")://\(hostForURL):\(port)" }
}

/// An HTTP CONNECT proxy for reaching the manager, from HTTPS_PROXY unless NO_PROXY exempts the host.
public struct ProxySettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: Redacted<String>?

    public static func resolve(httpsProxy: String?, noProxy: String?, for host: String) throws -> ProxySettings? {
        guard let httpsProxy, !httpsProxy.isEmpty else { return nil }
        if let noProxy, bypass(host: host, noProxy: noProxy) { return nil }
        let withScheme = httpsProxy.contains("://") ? httpsProxy : "http://" + httpsProxy
        guard let u = URLComponents(string: withScheme), let h = u.host, !h.isEmpty else {
            throw ConfigurationError(code: "invalid_proxy", "HTTPS_PROXY is not a valid proxy URL; expected http://[user:pass@]host:port.")
        }
        guard u.scheme?.lowercased() == "http" else {
            throw ConfigurationError(code: "invalid_proxy", "Only http:// CONNECT proxies are supported in HTTPS_PROXY.")
        }
        return ProxySettings(
            host: h, port: u.port ?? 3128, username: u.user?.removingPercentEncoding,
            password: u.password.flatMap { $0.removingPercentEncoding }.map(Redacted.init))
    }

    /// NO_PROXY semantics as curl: comma-separated hosts or domain suffixes; `*` means all.
    public static func bypass(host: String, noProxy: String) -> Bool {
        let h = host.lowercased()
        for raw in noProxy.split(separator: ",") {
            var entry = String(raw).trimmingWhitespace().lowercased()
            if entry.isEmpty { continue }
            if entry == "*" { return true }
            if let colon = entry.lastIndex(of: ":"), !entry.contains("]"), entry.filter({ $0 == ":" }).count == 1 {
                entry = String(entry[..<colon])
            }
            if entry.hasPrefix(".") { entry.removeFirst() }
            if h == entry || h.hasSuffix("." + entry) { return true }
        }
        return false
    }
}
