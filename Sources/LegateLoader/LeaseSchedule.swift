import Foundation
import ProviderVault

/// When to renew or replace dynamic database credentials. Pure: the time is passed in.
///
/// A lease is renewed once two thirds of its current grant have passed. When it cannot be renewed
/// (not renewable, or a renewal granted clearly less than the first grant because max_ttl is
/// near) it is replaced by new credentials at that point instead, which leaves the last third of
/// the grant to restart or signal the command before the old credentials expire.
public enum LeaseSchedule {
    public enum Action: Sendable, Equatable {
        /// Nothing to do before this time.
        case wait(until: Date)
        case renew
        /// Create new credentials and hand them to the command.
        case replace
        /// The lease has no expiry.
        case never
    }

    /// The share of a grant after which a lease is renewed or replaced.
    public static let renewAt = 2.0 / 3.0
    /// A renewal granting less than this share of the first grant means max_ttl is near.
    public static let shortGrant = 0.9

    public static func action(for l: DatabaseLease, now: Date) -> Action {
        guard l.lease.duration > 0 else { return .never }
        if l.capped { return .replace }
        let due = l.lease.obtainedAt.addingTimeInterval(l.lease.duration * renewAt)
        if now < due { return .wait(until: due) }
        return l.lease.renewable ? .renew : .replace
    }

    /// The lease after a renewal answered with `renewed`.
    public static func renewed(_ l: DatabaseLease, to renewed: VaultLease) -> DatabaseLease {
        var next = l
        next.lease = renewed
        next.capped = renewed.duration < l.firstDuration * shortGrant
        return next
    }
}
