import Foundation
import KeyProviders
import LegateCrypto
import ProviderVault
import XCTest

@testable import LegateLoader

/// When leases are renewed or replaced, with the time passed in.
final class LeaseScheduleTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func lease(_ duration: TimeInterval, renewable: Bool = true, at: Date? = nil) -> DatabaseLease {
        DatabaseLease(
            database: "pg", role: "app",
            lease: VaultLease(
                leaseId: "database/creds/app/x", duration: duration, renewable: renewable, obtainedAt: at ?? t0, username: SecretBytes(utf8: "u"),
                password: SecretBytes(utf8: "p")))
    }

    func testRenewsAtTwoThirdsOfTheGrant() {
        let l = lease(30)
        XCTAssertEqual(LeaseSchedule.action(for: l, now: t0), .wait(until: t0.addingTimeInterval(20)))
        XCTAssertEqual(LeaseSchedule.action(for: l, now: t0.addingTimeInterval(19.9)), .wait(until: t0.addingTimeInterval(20)))
        XCTAssertEqual(LeaseSchedule.action(for: l, now: t0.addingTimeInterval(20)), .renew)
        XCTAssertEqual(LeaseSchedule.action(for: lease(0), now: t0), .never)
    }

    func testNotRenewableIsReplacedAtTwoThirds() {
        XCTAssertEqual(LeaseSchedule.action(for: lease(9, renewable: false), now: t0.addingTimeInterval(6)), .replace)
    }

    func testAShortRenewalMeansMaxTTLIsNearAndTheLeaseIsReplaced() {
        let l = lease(10)
        let full = LeaseSchedule.renewed(l, to: lease(10, at: t0.addingTimeInterval(7)).lease)
        XCTAssertFalse(full.capped)
        XCTAssertEqual(LeaseSchedule.action(for: full, now: t0.addingTimeInterval(8)), .wait(until: t0.addingTimeInterval(7 + 10 * 2.0 / 3)))
        // max_ttl == ttl: the renewal at 2/3 grants only the remaining third.
        let short = LeaseSchedule.renewed(l, to: lease(3, at: t0.addingTimeInterval(7)).lease)
        XCTAssertTrue(short.capped)
        XCTAssertEqual(LeaseSchedule.action(for: short, now: t0.addingTimeInterval(7)), .replace)
    }
}

/// Small pure parts: --on-change, RFC 6761 names, service-account claims, error classes.
final class LoaderPartsTests: XCTestCase {
    func testChangeActions() throws {
        XCTAssertEqual(try ChangeAction.parse("restart"), .restart)
        XCTAssertEqual(try ChangeAction.parse("signal:HUP"), .signal(SIGHUP, name: "SIGHUP"))
        XCTAssertEqual(try ChangeAction.parse("signal:sigusr1"), .signal(SIGUSR1, name: "SIGUSR1"))
        XCTAssertThrowsError(try ChangeAction.parse("signal:KILL"))
        XCTAssertThrowsError(try ChangeAction.parse("reload"))
    }

    func testInvalidNamesNeverReachDNS() async {
        XCTAssertTrue(VaultHostCheck.isReservedInvalid("vault.invalid"))
        XCTAssertTrue(VaultHostCheck.isReservedInvalid("INVALID."))
        XCTAssertFalse(VaultHostCheck.isReservedInvalid("invalid.example.com"))
        let outcome = await VaultHostCheck.check(host: "vault.invalid")
        XCTAssertEqual(outcome, .noSuchHost)
        let loopback = await VaultHostCheck.check(host: "127.0.0.1")
        XCTAssertEqual(loopback, .resolved)
    }

    func testServiceAccountClaims() {
        func b64(_ s: String) -> String {
            Data(s.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        }
        let jwt = b64(#"{"alg":"RS256"}"#) + "." + b64(#"{"sub":"system:serviceaccount:harness:harness-default"}"#) + ".sig"
        let sa = SecretsLoader.serviceAccount(ofJWT: jwt + "\n")
        XCTAssertEqual(sa?.namespace, "harness")
        XCTAssertEqual(sa?.name, "harness-default")
        XCTAssertNil(SecretsLoader.serviceAccount(ofJWT: "not-a-jwt"))
    }

    func testDriverErrorsMapToTroubleshootingRows() {
        let c = LoaderStep.Context(address: "http://v:8200", valuesFiles: "values.yaml", auth: "token auth (token from VAULT_TOKEN)", authHint: "Issue a new token.")
        let read = LoaderStep.read(display: "secret/harness/svc/env-secrets", mount: "secret", path: "harness/svc/env-secrets", kvVersion: 2)
        let denied = read.classify(ProviderError.permanent("vault_permission_denied", "Vault denied read: permission denied."), c)
        XCTAssertEqual(denied.exitStatus, 4)
        XCTAssertTrue(denied.message.hasPrefix("permission denied: "), denied.message)
        XCTAssertTrue(denied.message.contains("read on secret/data/harness/svc/* and list on secret/metadata/harness/svc/*"), denied.message)
        XCTAssertEqual(LoaderStep.login.classify(ProviderError.permanent("vault_permission_denied", "denied"), c).kind, .badAuth)
        XCTAssertEqual(read.classify(ProviderError.permanent("vault_not_found", "x"), c).exitStatus, 5)
        let refused = read.classify(
            ProviderError.transient("vault_unreachable", "Cannot reach Vault: connection reset (error set): Connection refused (errno: 111)"), c)
        XCTAssertTrue(refused.message.hasPrefix("connection refused: cannot reach Vault at http://v:8200"), refused.message)
        XCTAssertEqual(refused.exitStatus, 6)
        XCTAssertEqual(LoaderStep.login.classify(ProviderError.permanent("vault_bad_token", "bad"), c).exitStatus, 3)
        XCTAssertEqual(read.classify(ProviderError.transient("vault_unavailable", "sealed"), c).exitStatus, 8)
    }
}
