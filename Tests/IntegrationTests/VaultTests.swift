import Foundation
import KeyProviders
import LegateAgent
import LegateCore
import LegateCrypto
import LegateManager
import LegateWire
import ProviderVault
import XCTest

/// The Vault driver against a real OpenBao server: KV v2 and v1 stores and Transit, with token,
/// AppRole, JWT and Kubernetes auth, inside a namespace too, end to end through manager and agent.
final class VaultTests: XCTestCase {
    static var providers: ProviderRegistry {
        var r = AgentService.builtinProviders
        VaultDrivers.register(in: &r)
        return r
    }

    static func kvValue(_ bao: BaoServer, _ path: String, namespace: String? = nil) async throws -> String? {
        do {
            let out = try await bao.api(.GET, path, namespace: namespace)
            let data = out["data"] as? [String: Any]
            return ((data?["data"] as? [String: Any]) ?? data)?["value"] as? String
        } catch let e as BaoServer.Failure where e.description.contains("→ 404") {
            return nil
        }
    }

    func testKVStoresWithEveryAuthMethodAndANamespaceEndToEnd() async throws {
        let logs = LogCapture()
        try await withVaultPeers { bao, fx, k8s in
            let created = try await bao.api(.POST, "auth/token/create", ["policies": ["legate"], "ttl": "1h"])
            let token = (created["auth"] as? [String: Any])?["client_token"] as? String ?? ""
            let saFile = Harness.tempDir("legate-vault-sa") + "/token"
            try FileIO.write(k8s.issue(namespace: "legate", serviceAccount: "legate-delegate"), to: saFile, mode: 0o600)
            let jwt = try fx.jwtIssuer.token(subject: "delegate-pool")
            try await withManager(logs: logs) { m in
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                try await withAgents(m, [AgentSpec(name: "vaulted", providers: Self.providers)], logs: logs) { _ in
                    try await Harness.eventually("agent connected") { try await admin.delegates().contains { $0.mode == .socket } }
                    for (name, value) in [("vault-token", token), ("approle-secret-id", fx.appRoleSecretId), ("vault-jwt", jwt), ("ns-token", fx.namespaceToken)] {
                        _ = try await AWSTests.createSecret(admin, name, scope: "acme", value: value)
                    }
                    let base = ["address": bao.url, "basePath": "legate"]
                    let cases: [(name: String, config: [String: String], credentials: [String: String], read: String, namespace: String?, route: String)] = [
                        ("kv2-token", ["authMethod": "token"], ["token": "vault-token"], "secret/data/legate", nil, "token"),
                        ("kv1-approle", ["authMethod": "approle", "roleId": fx.appRoleId, "mount": "kv1"], ["secretId": "approle-secret-id"], "kv1/legate", nil,
                         "AppRole"),
                        ("kv2-jwt", ["authMethod": "jwt", "role": "legate"], ["jwt": "vault-jwt"], "secret/data/legate", nil, "JWT"),
                        ("kv2-k8s", ["authMethod": "kubernetes", "role": "legate", "serviceAccountTokenFile": saFile], [:], "secret/data/legate", nil,
                         "Kubernetes"),
                        ("kv2-namespace", ["authMethod": "token", "namespace": fx.namespace], ["token": "ns-token"], "secret/data/legate", fx.namespace,
                         "token"),
                    ]
                    for (i, c) in cases.enumerated() {
                        let connector: ConnectorView = try await admin.call(
                            .POST, "/connectors",
                            CreateConnectorRequest(
                                name: c.name, type: "vault", scope: "acme", config: base.merging(c.config) { _, b in b },
                                credentials: c.credentials.isEmpty ? nil : c.credentials))
                        let v: ValidationView = try await admin.call(.POST, "/connectors/\(connector.id)/validate")
                        XCTAssertTrue(v.ok, "\(c.name): \(v.message ?? "") \(v.checks)")
                        XCTAssertTrue(v.route?.hasPrefix(c.route) ?? false, "\(c.name): route \(v.route ?? "-")")

                        let first = "vault-\(c.name)-one-\(i)-\(UUID().uuidString)"
                        let s = try await AWSTests.createSecret(admin, "db-\(c.name)", scope: "acme/pay", value: first, connector: c.name)
                        XCTAssertEqual(s.status, "active", c.name)
                        XCTAssertEqual(s.path, "acme/pay/db-\(c.name)")
                        let stored = try await Self.kvValue(bao, "\(c.read)/acme/pay/db-\(c.name)", namespace: c.namespace)
                        XCTAssertEqual(stored, first, "\(c.name): the value is in Vault")
                        let script = #"printf '%s' "<+secrets.getValue("db-\#(c.name)")>" | sha256sum | cut -c1-64"#
                        var (task, out) = try await AWSTests.run(admin, script, scope: "acme/pay")
                        XCTAssertEqual(task.status, .succeeded, "\(c.name): \(task.result?.message ?? "")")
                        XCTAssertTrue(out.contains(AWSTests.sha256(first)), "\(c.name): \(out)")

                        let second = "vault-\(c.name)-two-\(UUID().uuidString)"
                        let updated: SecretView = try await admin.call(
                            .PUT, "/secrets/\(s.id)/value", UpdateSecretValueRequest(value: Data(second.utf8).base64EncodedString()))
                        XCTAssertEqual(updated.version, 2)
                        let stored2 = try await Self.kvValue(bao, "\(c.read)/acme/pay/db-\(c.name)", namespace: c.namespace)
                        XCTAssertEqual(stored2, second)
                        (task, out) = try await AWSTests.run(admin, script, scope: "acme/pay")
                        XCTAssertTrue(out.contains(AWSTests.sha256(second)), "\(c.name) after update: \(out)")

                        let (status, _) = try await admin.raw(.DELETE, WireProtocol.apiPrefix + "/admin/secrets/\(s.id)")
                        XCTAssertEqual(status, 204)
                        let gone = try await Self.kvValue(bao, "\(c.read)/acme/pay/db-\(c.name)", namespace: c.namespace)
                        XCTAssertNil(gone, "\(c.name): deleted from Vault")
                    }
                    XCTAssertGreaterThan(k8s.reviews.withLock { $0 }, 0, "OpenBao never asked the Kubernetes API to review the token")

                    // Wrong credentials fail with a message that says what to check.
                    _ = try await AWSTests.createSecret(admin, "bad-secret-id", scope: "acme", value: "00000000-0000-0000-0000-000000000000")
                    let bad: ConnectorView = try await admin.call(
                        .POST, "/connectors",
                        CreateConnectorRequest(
                            name: "kv-bad", type: "vault", scope: "acme", config: base.merging(["authMethod": "approle", "roleId": fx.appRoleId]) { _, b in b },
                            credentials: ["secretId": "bad-secret-id"]))
                    let v: ValidationView = try await admin.call(.POST, "/connectors/\(bad.id)/validate")
                    XCTAssertFalse(v.ok)
                    XCTAssertTrue(v.message?.contains("AppRole login") ?? false, v.message ?? "")

                    var db = Data()
                    for file in ["manager.sqlite", "manager.sqlite-wal"] { db.append(FileManager.default.contents(atPath: m.stateDirectory + "/" + file) ?? Data()) }
                    for (what, secret) in [("token", token), ("secret id", fx.appRoleSecretId), ("jwt", jwt), ("namespace token", fx.namespaceToken)] {
                        XCTAssertNil(db.range(of: Data(secret.utf8)), "manager database holds the \(what)")
                        let line = logs.text.split(separator: "\n").first { $0.contains(secret) }
                        XCTAssertNil(line, "a log holds the \(what): \(line ?? "")")
                    }
                }
            }
        }
    }

    func testTransitKeyManagerRotateAndRewrap() async throws {
        try await withVaultPeers { bao, fx, _ in
            try await withManager { m in
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                try await withAgents(m, [AgentSpec(name: "transit", providers: Self.providers)]) { _ in
                    try await Harness.eventually("agent connected") { try await admin.delegates().contains { $0.mode == .socket } }
                    _ = try await AWSTests.createSecret(admin, "approle-secret-id", scope: "acme", value: fx.appRoleSecretId)
                    let c: ConnectorView = try await admin.call(
                        .POST, "/connectors",
                        CreateConnectorRequest(
                            name: "transit", type: "vault", scope: "acme",
                            config: ["address": bao.url, "engine": "transit", "keyName": "legate", "authMethod": "approle", "roleId": fx.appRoleId],
                            credentials: ["secretId": "approle-secret-id"]))
                    let v: ValidationView = try await admin.call(.POST, "/connectors/\(c.id)/validate")
                    XCTAssertTrue(v.ok, "\(v.message ?? "") \(v.checks)")
                    let value = "transit-sealed-\(UUID().uuidString)"
                    let s = try await AWSTests.createSecret(admin, "sealed", scope: "acme/pay", value: value, connector: "transit")
                    XCTAssertEqual(s.keyVersion, 1)
                    XCTAssertNil(s.path, "Transit is a key manager: the manager keeps the envelope")
                    let script = #"printf '%s' "<+secrets.getValue("sealed")>" | sha256sum | cut -c1-64"#
                    var (task, out) = try await AWSTests.run(admin, script, scope: "acme/pay")
                    XCTAssertEqual(task.status, .succeeded, task.result?.message ?? "")
                    XCTAssertTrue(out.contains(AWSTests.sha256(value)))

                    // Rotate the Transit key, re-wrap, then forbid decryption with version 1.
                    try await bao.api(.POST, "transit/keys/legate/rotate", [:])
                    let rw: RewrapResponse = try await admin.call(.POST, "/secrets/rewrap", RewrapRequest(connector: c.id))
                    XCTAssertEqual(rw.rewrapped, [s.id], "\(rw.failed)")
                    let after: [SecretView] = try await admin.call(.GET, "/secrets")
                    XCTAssertEqual(after.first { $0.id == s.id }?.keyVersion, 2)
                    try await bao.api(.POST, "transit/keys/legate/config", ["min_decryption_version": 2])
                    (task, out) = try await AWSTests.run(admin, script, scope: "acme/pay")
                    XCTAssertEqual(task.status, .succeeded, task.result?.message ?? "")
                    XCTAssertTrue(out.contains(AWSTests.sha256(value)), "after rotation: \(out)")
                }
            }
        }
    }

    func testShortLivedTokenKeepsWorkingForThreeTimesItsTTL() async throws {
        try await withVaultPeers { bao, _, _ in
            let created = try await bao.api(.POST, "auth/token/create", ["policies": ["legate"], "ttl": "6s", "explicit_max_ttl": "5m", "renewable": true])
            let token = (created["auth"] as? [String: Any])?["client_token"] as? String ?? ""
            let logs = LogCapture()
            try await withManager(logs: logs) { m in
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                try await withAgents(m, [AgentSpec(name: "renewer", providers: Self.providers)], logs: logs) { _ in
                    try await Harness.eventually("agent connected") { try await admin.delegates().contains { $0.mode == .socket } }
                    _ = try await AWSTests.createSecret(admin, "short-token", scope: "acme", value: token)
                    let _: ConnectorView = try await admin.call(
                        .POST, "/connectors",
                        CreateConnectorRequest(
                            name: "kv", type: "vault", scope: "acme", config: ["address": bao.url, "authMethod": "token"],
                            credentials: ["token": "short-token"]))
                    let value = "renewed-\(UUID().uuidString)"
                    _ = try await AWSTests.createSecret(admin, "renewed", scope: "acme/pay", value: value, connector: "kv")
                    let clock = ContinuousClock()
                    let start = clock.now
                    // Past 3 × 6 s, with gaps longer than the TTL between uses.
                    for pause in [0, 7, 7, 7] {
                        try await Task.sleep(for: .seconds(pause))
                        let (task, out) = try await AWSTests.run(
                            admin, #"printf '%s' "<+secrets.getValue("renewed")>" | sha256sum | cut -c1-64"#, scope: "acme/pay")
                        XCTAssertEqual(
                            task.status, .succeeded,
                            "at \(clock.now - start): \(task.result?.message ?? "")\n\(logs.text.split(separator: "\n").filter { $0.contains("agent") && !$0.contains("debug") }.suffix(30).joined(separator: "\n"))")
                        XCTAssertTrue(out.contains(AWSTests.sha256(value)))
                    }
                    XCTAssertGreaterThan(clock.now - start, .seconds(18))
                    // The token itself is still alive: it was renewed, not replaced.
                    let looked = try await bao.api(.GET, "auth/token/lookup-self", token: token)
                    XCTAssertGreaterThan(((looked["data"] as? [String: Any])?["ttl"] as? NSNumber)?.intValue ?? 0, 0)
                }
            }
        }
    }
}

extension VaultTests {
    func testDriverRenewsATokenBeforeItsTTLEnds() async throws {
        try await withVaultPeers { bao, _, _ in
            let created = try await bao.api(.POST, "auth/token/create", ["policies": ["legate"], "ttl": "4s", "explicit_max_ttl": "5m", "renewable": true])
            let token = (created["auth"] as? [String: Any])?["client_token"] as? String ?? ""
            try await bao.api(.POST, "secret/data/direct", ["data": ["value": "direct-value"]])
            let transport = try ProviderHTTPClient(configuration: AgentConfiguration())
            let logs = LogCapture()
            let ctx = ProviderContext(stateDirectory: Harness.tempDir("legate-vault-ctx"), logger: logs.logger("vault"), transport: transport)
            let d = ConnectorDescriptor(
                id: "v", type: "vault", config: ["address": bao.url, "authMethod": "token"], credentials: ["token": SecretBytes(utf8: token)])
            guard case .secretStore(let store) = try Self.providers.make(d, context: ctx) else { return XCTFail("not a store") }
            let first = try await store.get("direct", version: nil)
            XCTAssertEqual(first.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }, "direct-value")
            for _ in 0..<10 {
                try await Task.sleep(for: .seconds(1))
                await (store as? any MaintainedConnector)?.maintain()
            }
            let again = try await store.get("direct", version: nil)
            XCTAssertEqual(again.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }, "direct-value", logs.text)
            await transport.shutdown()
        }
    }
}

extension VaultTests {
    func testCheckAndSetWritesOverASoftDeletedLatestVersion() async throws {
        try await withVaultPeers { bao, _, _ in
            let transport = try ProviderHTTPClient(configuration: AgentConfiguration())
            defer { Task { await transport.shutdown() } }
            let ctx = ProviderContext(stateDirectory: Harness.tempDir("legate-vault-cas"), logger: LogCapture().logger("vault"), transport: transport)
            let d = ConnectorDescriptor(
                id: "v", type: "vault", config: ["address": bao.url, "authMethod": "token", "checkAndSet": "true", "basePath": "cas"],
                credentials: ["token": SecretBytes(utf8: BaoServer.rootToken)])
            guard case .secretStore(let store) = try Self.providers.make(d, context: ctx) else { return XCTFail("not a store") }
            let v1 = try await store.put("app", value: SecretBytes(utf8: "first-value"), options: StoreWriteOptions())
            XCTAssertEqual(v1, "1")
            // Someone soft-deletes the latest version; a check-and-set write must still go through.
            try await bao.api(.DELETE, "secret/data/cas/app")
            let v2 = try await store.put("app", value: SecretBytes(utf8: "second-value"), options: StoreWriteOptions())
            XCTAssertEqual(v2, "2")
            let back = try await store.get("app", version: nil)
            XCTAssertEqual(back.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }, "second-value")
        }
    }
}
