/// Where a secret, connector or task lives: `account`, `account/org` or `account/org/project`.
///
/// Scopes nest by prefix: `acme` contains `acme/payments`, which contains `acme/payments/checkout`.
public struct Scope: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    public let parts: [String]

    public enum Level: String, Sendable { case account, org, project }

    public init(_ text: String) throws(ConfigurationError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count) else {
            throw ConfigurationError(
                code: "invalid_scope", "Scope '\(text)' must be account, account/org or account/org/project.")
        }
        for p in parts {
            guard !p.isEmpty, p.count <= 64,
                p.unicodeScalars.allSatisfy({ ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "_" })
            else {
                throw ConfigurationError(
                    code: "invalid_scope",
                    "Scope '\(text)': each part must be 1–64 lowercase letters, digits, '-' or '_' (got '\(p)').")
            }
        }
        self.parts = parts
    }

    private init(parts: [String]) { self.parts = parts }

    public var level: Level { parts.count == 1 ? .account : parts.count == 2 ? .org : .project }
    public var description: String { parts.joined(separator: "/") }
    public var account: Scope { Scope(parts: [parts[0]]) }
    /// The org this scope is in (itself for an org), nil for an account scope.
    public var org: Scope? { parts.count >= 2 ? Scope(parts: Array(parts.prefix(2))) : nil }

    /// True when `other` is this scope or nested inside it.
    public func contains(_ other: Scope) -> Bool {
        other.parts.count >= parts.count && Array(other.parts.prefix(parts.count)) == parts
    }

    public static func < (a: Scope, b: Scope) -> Bool { a.description < b.description }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(text)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
