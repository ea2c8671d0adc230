import Foundation
import KeyProviders
import LegateCrypto

/// A lease on dynamic database credentials from Vault's database engine.
public struct VaultLease: Sendable {
    public var leaseId: String
    /// Seconds from `obtainedAt`.
    public var duration: TimeInterval
    public var renewable: Bool
    public var obtainedAt: Date
    public var username: SecretBytes
    public var password: SecretBytes

    public var expiresAt: Date { obtainedAt.addingTimeInterval(duration) }

    public init(leaseId: String, duration: TimeInterval, renewable: Bool, obtainedAt: Date, username: SecretBytes, password: SecretBytes) {
        self.leaseId = leaseId
        self.duration = duration
        self.renewable = renewable
        self.obtainedAt = obtainedAt
        self.username = username
        self.password = password
    }
}

/// `database/creds/<role>` plus lease renewal and revocation (`sys/leases/renew|revoke`).
public struct VaultDatabaseCredentials: Sendable {
    let client: VaultClient
    let mount: String

    public init(client: VaultClient, mount: String = "database") {
        self.client = client
        self.mount = mount.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    public func generate(role: String, now: Date = Date()) async throws -> VaultLease {
        let out: [String: Any]
        do {
            out = try await client.call("GET", "\(mount)/creds/\(role)", what: "database credentials for role '\(role)' (\(mount)/creds/\(role))")
        } catch let e as ProviderError where e.code == "vault_not_found" || e.code == "vault_invalid_request" {
            throw ProviderError.permanent(
                "vault_db_role", "Vault could not create database credentials for role '\(role)' at \(mount)/creds/\(role): \(e.message) Check that the database engine is enabled there and the role exists.")
        }
        let data = out["data"] as? [String: Any] ?? [:]
        guard let leaseId = out["lease_id"] as? String, let user = data["username"] as? String, let pass = data["password"] as? String else {
            throw ProviderError.transient("vault_bad_response", "Vault answered \(mount)/creds/\(role) without a lease, username or password.")
        }
        return VaultLease(
            leaseId: leaseId, duration: (out["lease_duration"] as? NSNumber)?.doubleValue ?? 0, renewable: (out["renewable"] as? Bool) ?? false,
            obtainedAt: now, username: SecretBytes(utf8: user), password: SecretBytes(utf8: pass))
    }

    /// Extends the lease; Vault may grant less than asked (max TTL). Returns the new duration.
    public func renew(_ lease: VaultLease, increment: Int? = nil, now: Date = Date()) async throws -> VaultLease {
        var body: [String: Any] = ["lease_id": lease.leaseId]
        if let increment { body["increment"] = increment }
        let out = try await client.call("PUT", "sys/leases/renew", body: body, what: "renewal of lease \(lease.leaseId)")
        var renewed = lease
        renewed.duration = (out["lease_duration"] as? NSNumber)?.doubleValue ?? 0
        renewed.renewable = (out["renewable"] as? Bool) ?? false
        renewed.obtainedAt = now
        return renewed
    }

    public func revoke(_ lease: VaultLease) async throws {
        try await client.call("PUT", "sys/leases/revoke", body: ["lease_id": lease.leaseId], what: "revocation of lease \(lease.leaseId)")
    }
}
