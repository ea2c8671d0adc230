import Foundation
import XCTest

@testable import LegateLoader

/// The values block: the seed's own examples parse, unknown keys are named with file and line,
/// several files merge like helm -f.
final class LoaderSettingsTests: XCTestCase {
    static let seedKubernetes = """
        global:
          externalSecretsLoader:
            enabled: true
            provider: vault
            vault:
              address: "http://vault.vault.svc.cluster.local:8200"
              engine: "secret"
              basePath: "harness"
              auth:
                method: "kubernetes"
                role: "harness"           # role created in vault
                serviceAccount: "harness-default"       # loader serviceaccount for auth
        """

    static let seedDatabases = """
        global:
          externalSecretsLoader:
            databases:
              timescaledb:
                useDatabaseSecretsEngine: "true"
                databaseRole: "harness-timescaledb-role"
                engine: ""
                overridePath: ""
              mongo:
                engine: ""        # KV engine name for static credentials
                overridePath: ""  # Vault path where static credentials are stored
        """

    func write(_ text: String, _ name: String = "values.yaml") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("legate-values-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func settings(_ texts: String...) throws -> LoaderSettings {
        try LoaderSettings.from(try HelmValues.load(files: texts.map { try write($0) }))
    }

    func error(_ texts: String...) throws -> LoaderError {
        do {
            _ = try LoaderSettings.from(try HelmValues.load(files: texts.map { try write($0) }))
        } catch let e as LoaderError {
            return e
        }
        XCTFail("expected an error")
        throw CancellationError()
    }

    func testSeedExamplesParseAndMerge() throws {
        let s = try settings(Self.seedKubernetes, Self.seedDatabases)
        XCTAssertEqual(s.vault.address, "http://vault.vault.svc.cluster.local:8200")
        XCTAssertEqual(s.vault.engine, "secret")
        XCTAssertEqual(s.vault.basePath, "harness")
        XCTAssertEqual(s.vault.auth.method, .kubernetes)
        XCTAssertEqual(s.vault.auth.role, "harness")
        XCTAssertEqual(s.vault.auth.serviceAccount, "harness-default")
        XCTAssertEqual(s.databases.map(\.name), ["mongo", "timescaledb"])
        XCTAssertEqual(s.databases[1].useDatabaseSecretsEngine, true)
        XCTAssertEqual(s.databases[1].databaseRole, "harness-timescaledb-role")
        XCTAssertNil(s.databases[1].engine, "an empty string means not set")
        XCTAssertEqual(s.databases[0].useDatabaseSecretsEngine, false)
    }

    func testTokenVariantAndLaterFilesOverride() throws {
        let token = """
            global:
              externalSecretsLoader:
                enabled: true
                provider: vault
                vault:
                  address: "http://vault.vault.svc.cluster.local:8200"
                  engine: "secret"
                  basePath: "harness"
                  auth:
                    method: "token"
                    token: "hvs.your-token-here" #Plaintext token
            """
        let override = """
            global:
              externalSecretsLoader:
                vault:
                  address: https://vault.example:8200
                  auth:
                    token: null
            """
        let s = try settings(token, override)
        XCTAssertEqual(s.vault.address, "https://vault.example:8200")
        XCTAssertEqual(s.vault.auth.method, .token)
        XCTAssertNil(s.vault.auth.token, "null in a later file removes the key, as in helm")
        XCTAssertEqual(try settings(token).vault.auth.token?.unsafeUTF8String(), "hvs.your-token-here")
    }

    func testUnknownKeysAreNamedWithFileAndLine() throws {
        let typo = Self.seedKubernetes.replacingOccurrences(of: "address:", with: "adress:")
        let e = try error(typo)
        XCTAssertEqual(e.kind, .configuration)
        XCTAssertEqual(e.code, "loader_unknown_key")
        XCTAssertTrue(e.message.contains("values.yaml:6: unknown key 'adress' in global.externalSecretsLoader.vault"), e.message)
        XCTAssertTrue(e.message.contains("address, engine, basePath, auth"), e.message)

        let db = try error(Self.seedKubernetes + "\n    databases:\n      mongo:\n        overidePath: x\n")
        XCTAssertTrue(db.message.contains("unknown key 'overidePath' in global.externalSecretsLoader.databases.mongo"), db.message)
        let auth = try error(Self.seedKubernetes.replacingOccurrences(of: "serviceAccount:", with: "serviceaccount:"))
        XCTAssertTrue(auth.message.contains("(did you mean 'serviceAccount'?)"), auth.message)
    }

    func testMissingOrWrongValuesSayWhatToSet() throws {
        XCTAssertEqual(try error("global: {}\n").code, "loader_block_missing")
        XCTAssertEqual(try error(Self.seedKubernetes.replacingOccurrences(of: "enabled: true", with: "enabled: false")).code, "loader_disabled")
        XCTAssertEqual(try error(Self.seedKubernetes.replacingOccurrences(of: "provider: vault", with: "provider: aws")).code, "loader_provider")
        XCTAssertEqual(try error(Self.seedKubernetes.replacingOccurrences(of: "\"kubernetes\"", with: "ldap")).code, "loader_auth_method")
        XCTAssertEqual(try error(Self.seedKubernetes.replacingOccurrences(of: "role: \"harness\"", with: "role: \"\"")).code, "loader_auth_role")
        XCTAssertEqual(try error(Self.seedKubernetes.replacingOccurrences(of: "http://vault", with: "vault")).code, "loader_address")
        XCTAssertEqual(try error(Self.seedKubernetes.replacingOccurrences(of: "enabled: true", with: "enabled: maybe")).code, "loader_values_bool")
        XCTAssertEqual(try error("global:\n  externalSecretsLoader: [1]\n").code, "loader_values_shape")
        XCTAssertEqual(try error("global: [unclosed\n").code, "loader_values_yaml")
        let dynamic = Self.seedKubernetes + "\n    databases:\n      pg:\n        useDatabaseSecretsEngine: true\n"
        XCTAssertEqual(try error(dynamic).code, "loader_database_role")
        XCTAssertThrowsError(try HelmValues.load(files: [])) { XCTAssertEqual(($0 as? LoaderError)?.code, "loader_no_values") }
        XCTAssertThrowsError(try HelmValues.load(files: ["/nonexistent/values.yaml"])) {
            XCTAssertTrue(($0 as? LoaderError)?.message.contains("/nonexistent/values.yaml") ?? false)
        }
    }

    func testOtherChartValuesAreIgnored() throws {
        let s = try settings(
            "global:\n  databases:\n    postgres:\n      ssl:\n        enabled: true\n  ingress: {enabled: false}\nplatform: {replicas: 2}\n", Self.seedKubernetes)
        XCTAssertEqual(s.vault.auth.method, .kubernetes)
    }
}
