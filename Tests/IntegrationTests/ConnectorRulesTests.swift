import Foundation
import LegateCore
@testable import LegateManager
import LegateWire
import XCTest

/// Connector credentials may only be secrets of a built-in connector (seed 001): never a secret
/// kept by the connector itself, nor one kept by another external connector.
final class ConnectorRulesTests: XCTestCase {
    func testConnectorCredentialsMustBeBuiltinSecrets() async throws {
        try await withManager { m in
            let core = m.core
            let t = Date()
            // Stand-ins for secrets already sealed: the rule only looks at where they are stored.
            let builtin = try await core.createConnector(
                CreateConnectorRequest(name: "builtin", type: "builtin", scope: "acme"), actor: "test")
            let vault = try await core.createConnector(
                CreateConnectorRequest(name: "vault-a", type: "vault", scope: "acme", config: ["address": "https://vault.example"]),
                actor: "test")
            for (name, connector) in [("aws-secret-key", builtin.id), ("vault-held", vault.id)] {
                try await core.store.insertSecret(ManagerStore.SecretRecord(
                    id: Identifiers.make(prefix: "s_"), scope: "acme", name: name, kind: .text, connectorId: connector,
                    envelope: "x", keyVersion: 1, version: 1, usageScopes: ["acme"], status: "active", createdAt: t, updatedAt: t))
            }
            let ok = try await core.createConnector(
                CreateConnectorRequest(
                    name: "kms", type: "awskms", scope: "acme/payments", config: ["region": "eu-west-1"],
                    credentials: ["secretAccessKey": "account.aws-secret-key"]),
                actor: "test")
            XCTAssertEqual(ok.credentials, ["secretAccessKey": "account.aws-secret-key"])

            func failure(_ req: CreateConnectorRequest) async -> (String, String) {
                do {
                    _ = try await core.createConnector(req, actor: "test")
                    return ("none", "")
                } catch let e as APIError {
                    return (e.code, e.message)
                } catch { return ("other", "\(error)") }
            }
            let cross = await failure(CreateConnectorRequest(
                name: "kms2", type: "awskms", scope: "acme", credentials: ["secretAccessKey": "vault-held"]))
            XCTAssertEqual(cross.0, "cross_connector_reference")
            XCTAssertTrue(cross.1.contains("vault-a") && cross.1.contains("built-in"), cross.1)
            let selfRef = await failure(CreateConnectorRequest(
                name: "vault-a", type: "vault", scope: "acme", credentials: ["token": "vault-held"]))
            XCTAssertEqual(selfRef.0, "self_reference")
            let missing = await failure(CreateConnectorRequest(
                name: "kms3", type: "awskms", scope: "acme", credentials: ["secretAccessKey": "nope"]))
            XCTAssertEqual(missing.0, "secret_not_found")
            // Setting and credential names are checked against what the driver reads.
            let typo = await failure(CreateConnectorRequest(name: "kms4", type: "awskms", scope: "acme", config: ["Region": "eu-west-1"]))
            XCTAssertEqual(typo.0, "unknown_setting")
            XCTAssertTrue(typo.1.contains("did you mean 'region'"), typo.1)
            let badCredential = await failure(CreateConnectorRequest(
                name: "kms5", type: "awskms", scope: "acme", credentials: ["secretKey": "account.aws-secret-key"]))
            XCTAssertEqual(badCredential.0, "unknown_setting")
            XCTAssertTrue(badCredential.1.contains("secretAccessKey"), badCredential.1)
            let unknown = await failure(CreateConnectorRequest(name: "x", type: "ftp", scope: "acme"))
            XCTAssertEqual(unknown.0, "unsupported_connector_type")
            // A concurrent create that slips past the name check is refused by the store as such.
            let dup = ManagerStore.ConnectorRecord(
                id: Identifiers.make(prefix: "c_"), name: "kms", type: "awskms", scope: "acme/payments", config: [:], selectors: [],
                credentials: [:], createdAt: t)
            do {
                try await core.store.insertConnector(dup)
                XCTFail("duplicate connector stored")
            } catch let e as StoreError {
                XCTAssertTrue(e.isUniqueViolation, e.message)
            }
            let builtinCreds = await failure(CreateConnectorRequest(
                name: "b2", type: "builtin", scope: "acme", credentials: ["k": "aws-secret-key"]))
            XCTAssertEqual(builtinCreds.0, "invalid_field")
        }
    }
}
