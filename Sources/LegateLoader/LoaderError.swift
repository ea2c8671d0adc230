import LegateCore

/// A `legate secrets-load` failure. Each ``Kind`` is one row of the troubleshooting table in
/// docs/loader.md and has its own exit status, so an init container's status alone says which row
/// applies. Messages name the path, role or address involved and what to check; never a value.
public struct LoaderError: LegateError, Equatable {
    /// The failure classes, one per troubleshooting row.
    public enum Kind: String, Sendable {
        /// The values file or a flag is wrong (unknown key, missing address, bad method).
        case configuration
        /// Vault refused the login: wrong or expired token, unknown role, unbound service account.
        case badAuth
        /// Logged in, but the policy does not allow the read.
        case permissionDenied
        /// Nothing at the path (or no such database role).
        case notFound
        /// Connection refused, no such host, timeout or TLS failure on the way to vault.address.
        case unreachable
        /// The output directory could not be written.
        case output
        /// Vault failed in another way (sealed, 5xx, a malformed answer).
        case vault
        /// The supervised command could not be started.
        case command
    }

    public let kind: Kind
    public let code: String
    public let message: String

    public init(_ kind: Kind, code: String, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    public var origin: ErrorOrigin {
        switch kind {
        case .configuration, .badAuth, .permissionDenied, .notFound, .command: .configuration
        case .unreachable, .output, .vault: .external
        }
    }

    public var persistence: ErrorPersistence {
        switch kind {
        case .unreachable, .vault: .transient
        default: .permanent
        }
    }

    /// The process exit status for this failure (docs/loader.md, "Exit status").
    public var exitStatus: Int32 {
        switch kind {
        case .configuration: 2
        case .badAuth: 3
        case .permissionDenied: 4
        case .notFound: 5
        case .unreachable: 6
        case .output: 7
        case .vault: 8
        case .command: 9
        }
    }

    static func configuration(_ code: String = "loader_configuration", _ message: String) -> LoaderError {
        LoaderError(.configuration, code: code, message)
    }
}
