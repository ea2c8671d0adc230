import Foundation
import KeyProviders
import LegateCore

/// What the loader was doing when Vault failed: turns a driver error into the troubleshooting
/// row it belongs to (docs/loader.md), with a message naming the path, role or address and what to
/// check.
enum LoaderStep: Sendable {
    case login
    /// Looking up a KV mount's version.
    case mount(String)
    /// Reading a KV entry: the path as the seed writes it (`secret/harness/svc/env-secrets`), the
    /// mount, and the path inside it.
    case read(display: String, mount: String, path: String, kvVersion: Int?)
    case createCredentials(database: String, role: String, mount: String)
    case renew(database: String)

    var doing: String {
        switch self {
        case .login: "logging in"
        case .mount(let m): "looking up the KV mount '\(m)'"
        case .read(let d, _, _, _): "reading \(d)"
        case .createCredentials(let db, let role, let mount): "creating credentials for database '\(db)' at \(mount)/creds/\(role)"
        case .renew(let db): "renewing the lease of database '\(db)'"
        }
    }

    /// Context the messages need: where Vault is and how the loader logged in.
    struct Context: Sendable {
        var address: String
        var valuesFiles: String
        /// "kubernetes auth (role 'harness', service account 'harness-default')".
        var auth: String
        /// The hint for a bad login: what to check for this method.
        var authHint: String
    }

    func classify(_ error: any Error, _ c: Context) -> LoaderError {
        if let e = error as? LoaderError { return e }
        guard let e = error as? ProviderError else {
            return LoaderError(.vault, code: "loader_vault_failed", "Vault at \(c.address) failed while \(doing): \(error).")
        }
        switch e.code {
        case "vault_unreachable", "provider_unreachable", "provider_timeout":
            let lower = e.message.lowercased()
            let what =
                lower.contains("refused") ? "connection refused" : lower.contains("timed out") || e.code == "provider_timeout" ? "timed out" : "cannot connect"
            return Self.unreachable(what, address: c.address, files: c.valuesFiles, doing: doing)
        case "provider_tls":
            return LoaderError(
                .unreachable, code: "loader_vault_tls",
                "TLS failed: cannot reach Vault at \(c.address) (vault.address) securely while \(doing): \(e.message) If Vault uses a private CA, give it with VAULT_CACERT or --ca-file."
            )
        case "vault_bad_token":
            // The driver's wording speaks of a connector; the hint says it for the loader.
            return LoaderError(.badAuth, code: "loader_bad_auth", "bad auth: Vault at \(c.address) rejected the login with \(c.auth) (lookup-self was denied). \(c.authHint)")
        case "vault_bad_auth", "vault_missing_token", "vault_k8s_token_file", "vault_jwt_file":
            return LoaderError(.badAuth, code: "loader_bad_auth", "bad auth: Vault at \(c.address) rejected the login with \(c.auth): \(Self.detail(e)) \(c.authHint)")
        case "vault_permission_denied":
            if case .login = self {
                return LoaderError(.badAuth, code: "loader_bad_auth", "bad auth: Vault at \(c.address) rejected the login with \(c.auth): \(Self.detail(e)) \(c.authHint)")
            }
            return LoaderError(.permissionDenied, code: "loader_permission_denied", "permission denied: " + permissionMessage(c))
        case "vault_not_found", "vault_secret_not_found", "vault_db_role":
            return LoaderError(.notFound, code: "loader_not_found", "secret not found: " + notFoundMessage(c))
        case "vault_not_kv", "vault_unsupported":
            return LoaderError(.configuration, code: "loader_engine", "Vault at \(c.address) cannot serve \(doing): \(Self.detail(e)) Check vault.engine (and databases.*.engine) in \(c.valuesFiles).")
        case "vault_invalid_request":
            if case .mount(let m) = self {
                return LoaderError(
                    .notFound, code: "loader_not_found",
                    "secret not found: Vault at \(c.address) has no KV mount '\(m)': \(Self.detail(e)) Check vault.engine (or databases.*.engine) in \(c.valuesFiles).")
            }
            return LoaderError(.vault, code: "loader_vault_failed", "Vault at \(c.address) refused \(doing): \(Self.detail(e))")
        default:
            return LoaderError(.vault, code: "loader_vault_failed", "Vault at \(c.address) failed while \(doing): \(Self.detail(e))")
        }
    }

    static func unreachable(_ what: String, address: String, files: String, doing: String) -> LoaderError {
        LoaderError(
            .unreachable, code: "loader_vault_unreachable",
            "\(what): cannot reach Vault at \(address) while \(doing). Check that the Vault service is running and reachable from here, and the vault.address value in \(files); test with curl \(address)/v1/sys/health from inside the cluster."
        )
    }

    /// The driver's message without its own closing advice (ours replaces it).
    static func detail(_ e: ProviderError) -> String {
        var m = e.message
        if let r = m.range(of: " Check ") { m = String(m[..<r.lowerBound]) }
        return m.hasSuffix(".") ? m : m + "."
    }

    func permissionMessage(_ c: Context) -> String {
        switch self {
        case .read(let display, let mount, let path, let kv):
            let parent = (path as NSString).deletingLastPathComponent
            let scope = parent.isEmpty ? "*" : parent + "/*"
            let grant =
                kv == 1
                ? "read on \(mount)/\(scope)"
                : "read on \(mount)/data/\(scope) and list on \(mount)/metadata/\(scope)"
            return "Vault at \(c.address) refused reading \(display) with \(c.auth). Check that the Vault policy allows \(grant), and that the auth role and its service account bindings are correct."
        case .mount(let m):
            return "Vault at \(c.address) refused looking up the KV mount '\(m)' with \(c.auth): the policy grants nothing under \(m)/. Check that the Vault policy allows read on \(m)/data/... and list on \(m)/metadata/..., and that the auth role and its service account bindings are correct."
        case .createCredentials(let db, let role, let mount):
            return "Vault at \(c.address) refused creating credentials for database '\(db)' at \(mount)/creds/\(role) with \(c.auth). Check that the Vault policy allows read on \(mount)/creds/\(role)."
        case .renew(let db):
            return "Vault at \(c.address) refused renewing the lease of database '\(db)' with \(c.auth). Check that the Vault policy allows update on sys/leases/renew."
        case .login:
            return "Vault at \(c.address) refused the login with \(c.auth). \(c.authHint)"
        }
    }

    func notFoundMessage(_ c: Context) -> String {
        switch self {
        case .read(let display, _, _, _):
            return "Vault at \(c.address) has nothing at \(display). Check that the secret exists in Vault (re-run the secrets generator if needed) and that the service name, vault.engine and vault.basePath match its path."
        case .createCredentials(let db, let role, let mount):
            return "Vault at \(c.address) has no database role '\(role)' at \(mount)/creds/\(role) (database '\(db)'). Check databases.\(db).databaseRole and that the database secrets engine is mounted at '\(mount)' (--database-mount)."
        case .mount(let m):
            return "Vault at \(c.address) has no KV mount '\(m)'. Check vault.engine (or databases.*.engine) in \(c.valuesFiles)."
        case .renew(let db):
            return "Vault at \(c.address) no longer knows the lease of database '\(db)' (revoked or expired)."
        case .login:
            return "Vault at \(c.address) has no such auth mount or role. \(c.authHint)"
        }
    }
}
