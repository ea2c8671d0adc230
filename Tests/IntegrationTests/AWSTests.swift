import AsyncHTTPClient
import Crypto
import Foundation
import KeyProviders
import LegateAgent
import LegateCore
import LegateCrypto
import LegateManager
import LegateWire
import Logging
import ProviderAWS
import XCTest

/// The AWS driver against a real moto server with signature checking on: every credential route
/// end to end through manager and agents, Secrets Manager as a store, the data-key cache, faults.
final class AWSTests: XCTestCase {
    static var providers: ProviderRegistry {
        var r = AgentService.builtinProviders
        AWSDrivers.register(in: &r)
        return r
    }

    /// The same built-in key for every agent of a test, as an operator copies it to a pool.
    static func installBuiltinKey(_ m: TestManager, agents: [String]) throws {
        var key = [UInt8](repeating: 0, count: 32)
        for i in key.indices { key[i] = UInt8.random(in: 0...255) }
        for name in agents {
            let dir = m.stateDirectory + "/agent-\(name)"
            try FileIO.makeDirectory(dir, mode: 0o700)
            try FileIO.makeDirectory(dir + "/keys", mode: 0o700)
            try FileIO.makeDirectory(dir + "/keys/default", mode: 0o700)
            _ = try FileIO.createExclusive(Data(key), at: dir + "/keys/default/v1.key", mode: 0o600)
        }
    }

    static func createSecret(_ admin: AdminAPI, _ name: String, scope: String, value: String, kind: SecretKind = .text, connector: String? = nil)
        async throws -> SecretView
    {
        try await admin.call(
            .POST, "/secrets",
            CreateSecretRequest(name: name, scope: scope, kind: kind, connector: connector, value: Data(value.utf8).base64EncodedString()))
    }

    /// Runs a shell task in `scope` and returns its stored output.
    static func run(_ admin: AdminAPI, _ script: String, scope: String) async throws -> (TaskView, String) {
        let t: TaskView = try await admin.call(.POST, "/tasks", CreateTaskRequest(shell: ShellSpec(script: script), scope: scope))
        let done = try await admin.waitFinal([t.id], timeout: .seconds(90))
        let text = try await admin.logs(t.id).map(\.data).joined()
        return (done[0], text)
    }

    static func sha256(_ s: String) -> String {
        SHA256.hash(data: Array(s.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    func testKMSConnectorsForEveryCredentialRouteEndToEnd() async throws {
        let logs = LogCapture()
        try await withAWSPeers { moto, standIn, awsURL in
            let f = moto.fixture
            let dir = Harness.tempDir("legate-aws-e2e")
            let tokenFile = dir + "/web-identity-token"
            try FileIO.write(standIn.webIdentityToken + "\n", to: tokenFile, mode: 0o600)
            let containerTokenFile = dir + "/container-token"
            try FileIO.write(standIn.containerToken, to: containerTokenFile, mode: 0o600)
            let noIMDS = ["AWS_EC2_METADATA_DISABLED": "true"]
            let specs = [
                AgentSpec(name: "keys", tags: ["keys"], providers: Self.providers, environment: noIMDS),
                AgentSpec(
                    name: "env", tags: ["env"], providers: Self.providers,
                    environment: noIMDS.merging(["AWS_ACCESS_KEY_ID": f.accessKeyId, "AWS_SECRET_ACCESS_KEY": f.secretAccessKey]) { a, _ in a }),
                AgentSpec(
                    name: "container", tags: ["container"], providers: Self.providers,
                    environment: noIMDS.merging([
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI": awsURL + "/container/credentials",
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": containerTokenFile,
                    ]) { a, _ in a }),
                AgentSpec(name: "imds", tags: ["imds"], providers: Self.providers, environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": awsURL]),
            ]
            try await withManager(logs: logs) { m in
                try Self.installBuiltinKey(m, agents: specs.map(\.name))
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                try await withAgents(m, specs, logs: logs) { _ in
                    try await Harness.eventually("agents connected") { try await admin.delegates().filter { $0.mode == .socket }.count == 4 }
                    // Connector credentials are built-in secrets; all agents share the built-in key.
                    _ = try await Self.createSecret(admin, "aws-key-id", scope: "acme", value: f.accessKeyId)
                    _ = try await Self.createSecret(admin, "aws-secret-key", scope: "acme", value: f.secretAccessKey)
                    _ = try await Self.createSecret(admin, "oidc-token", scope: "acme", value: standIn.webIdentityToken)
                    let keys = ["accessKeyId": "aws-key-id", "secretAccessKey": "aws-secret-key"]
                    let base = ["region": f.region, "keyId": f.keyAlias, "endpoint": awsURL, "stsEndpoint": awsURL]
                    let routes: [(name: String, tag: String, config: [String: String], credentials: [String: String], expect: String)] = [
                        ("kms-keys", "keys", ["credentialType": "access_key"], keys, "access keys"),
                        ("kms-env", "env", ["credentialType": "delegate_role"], [:], "environment (AWS_ACCESS_KEY_ID)"),
                        ("kms-container", "container", ["credentialType": "delegate_role"], [:], "container credentials"),
                        ("kms-imds", "imds", ["credentialType": "delegate_role"], [:], "IMDSv2"),
                        ("kms-assume", "keys",
                         ["credentialType": "assume_role", "roleArn": f.roleArn, "externalId": f.externalId, "durationSeconds": "900"], keys,
                         "STS AssumeRole of \(f.roleArn) with the connector's access keys"),
                        ("kms-oidc-file", "keys", ["credentialType": "oidc", "roleArn": f.roleArn, "webIdentityTokenFile": tokenFile], [:], "token file"),
                        ("kms-oidc-manager", "keys", ["credentialType": "oidc", "roleArn": f.roleArn], ["webIdentityToken": "oidc-token"],
                         "token from the manager"),
                    ]
                    for (i, r) in routes.enumerated() {
                        let c: ConnectorView = try await admin.call(
                            .POST, "/connectors",
                            CreateConnectorRequest(
                                name: r.name, type: "awskms", scope: "acme", config: base.merging(r.config) { _, b in b }, selectors: [r.tag],
                                credentials: r.credentials.isEmpty ? nil : r.credentials))
                        let v: ValidationView = try await admin.call(.POST, "/connectors/\(c.id)/validate")
                        XCTAssertTrue(v.ok, "\(r.name): \(v.message ?? "") \(v.checks)")
                        XCTAssertTrue(v.route?.contains(r.expect) ?? false, "\(r.name) used \(v.route ?? "nothing"), expected \(r.expect)")
                        XCTAssertTrue(v.checks.contains { $0.contains("GenerateDataKey/Decrypt round trip") }, "\(v.checks)")

                        let value = "kms-\(r.name)-value-\(i)-\(UUID().uuidString)"
                        let s = try await Self.createSecret(admin, "db-\(r.name)", scope: "acme/pay", value: value, connector: r.name)
                        XCTAssertEqual(s.status, "active", r.name)
                        let script = #"printf '%s' "<+secrets.getValue("db-\#(r.name)")>" | sha256sum | cut -c1-64"#
                        let (task, out) = try await Self.run(admin, script, scope: "acme/pay")
                        XCTAssertEqual(task.status, .succeeded, "\(r.name): \(task.result?.message ?? "")")
                        XCTAssertTrue(out.contains(Self.sha256(value)), "\(r.name): \(out)")

                        let before = standIn.count("ReEncrypt")
                        let rw: RewrapResponse = try await admin.call(.POST, "/secrets/rewrap", RewrapRequest(connector: c.id))
                        XCTAssertEqual(rw.rewrapped, [s.id], "\(r.name): \(rw.failed)")
                        XCTAssertEqual(standIn.count("ReEncrypt"), before + 1)
                        let (again, out2) = try await Self.run(admin, script, scope: "acme/pay")
                        XCTAssertEqual(again.status, .succeeded, "\(r.name) after rewrap: \(again.result?.message ?? "")")
                        XCTAssertTrue(out2.contains(Self.sha256(value)))
                        let (status, _) = try await admin.raw(.DELETE, WireProtocol.apiPrefix + "/admin/secrets/\(s.id)")
                        XCTAssertEqual(status, 204)
                    }
                    XCTAssertGreaterThan(standIn.state.withLock { $0.imdsTokenRequests }, 0, "IMDSv2 token was never requested")
                    XCTAssertGreaterThan(standIn.state.withLock { $0.containerRequests }, 0)
                    XCTAssertGreaterThanOrEqual(standIn.count("AssumeRoleWithWebIdentity"), 2)
                    XCTAssertGreaterThanOrEqual(standIn.count("AssumeRole"), 1)
                    // STS sessions are cached: one AssumeRole for the whole connector's life.
                    XCTAssertEqual(standIn.count("AssumeRole"), 1)

                    // The database and every log hold no credential and no value.
                    var db = Data()
                    for file in ["manager.sqlite", "manager.sqlite-wal"] { db.append(FileManager.default.contents(atPath: m.stateDirectory + "/" + file) ?? Data()) }
                    for (what, secret) in [("secret key", f.secretAccessKey), ("session secret", f.session.SecretAccessKey), ("session token", f.session.Token), ("oidc token", standIn.webIdentityToken)] {
                        XCTAssertNil(db.range(of: Data(secret.utf8)), "manager database holds the \(what)")
                        let line = logs.text.split(separator: "\n").first { $0.contains(secret) }
                        XCTAssertNil(line, "a log holds the \(what): \(line ?? "")")
                    }
                    XCTAssertFalse(logs.text.contains("kms-kms-"), "a log holds a secret value")
                }
            }
        }
    }

    func testSecretsManagerAsAStoreEndToEnd() async throws {
        let logs = LogCapture()
        try await withAWSPeers { moto, standIn, awsURL in
            let f = moto.fixture
            try await withManager(logs: logs) { m in
                try Self.installBuiltinKey(m, agents: ["sm"])
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                try await withAgents(m, [AgentSpec(name: "sm", providers: Self.providers, environment: ["AWS_EC2_METADATA_DISABLED": "true"])], logs: logs) { _ in
                    try await Harness.eventually("agent connected") { try await admin.delegates().contains { $0.mode == .socket } }
                    _ = try await Self.createSecret(admin, "aws-key-id", scope: "acme", value: f.accessKeyId)
                    _ = try await Self.createSecret(admin, "aws-secret-key", scope: "acme", value: f.secretAccessKey)
                    let c: ConnectorView = try await admin.call(
                        .POST, "/connectors",
                        CreateConnectorRequest(
                            name: "sm", type: "awssecretsmanager", scope: "acme",
                            config: ["region": f.region, "endpoint": awsURL, "secretPrefix": "legate/"],
                            credentials: ["accessKeyId": "aws-key-id", "secretAccessKey": "aws-secret-key"]))
                    let v: ValidationView = try await admin.call(.POST, "/connectors/\(c.id)/validate")
                    XCTAssertTrue(v.ok, "\(v.message ?? "") \(v.checks)")
                    XCTAssertEqual(v.route, "the connector's access keys")

                    let first = "sm-value-one-\(UUID().uuidString)"
                    let s = try await Self.createSecret(admin, "api-token", scope: "acme/pay", value: first, connector: "sm")
                    XCTAssertEqual(s.status, "active")
                    XCTAssertEqual(s.path, "acme/pay/api-token")
                    XCTAssertNotNil(s.storeVersion)
                    // The value is really in Secrets Manager, under the prefix, read by boto3.
                    let got1 = try await Self.boto3Get(moto, "legate/acme/pay/api-token")
                    XCTAssertEqual(got1, first)
                    let script = #"printf '%s' "<+secrets.getValue("api-token")>" | sha256sum | cut -c1-64"#
                    var (task, out) = try await Self.run(admin, script, scope: "acme/pay")
                    XCTAssertEqual(task.status, .succeeded, task.result?.message ?? "")
                    XCTAssertTrue(out.contains(Self.sha256(first)), out)

                    // Update: a new version in the store, used by the next task.
                    let second = "sm-value-two-\(UUID().uuidString)"
                    let updated: SecretView = try await admin.call(
                        .PUT, "/secrets/\(s.id)/value", UpdateSecretValueRequest(value: Data(second.utf8).base64EncodedString()))
                    XCTAssertEqual(updated.version, 2)
                    XCTAssertNotEqual(updated.storeVersion, s.storeVersion)
                    let got2 = try await Self.boto3Get(moto, "legate/acme/pay/api-token")
                    XCTAssertEqual(got2, second)
                    (task, out) = try await Self.run(admin, script, scope: "acme/pay")
                    XCTAssertTrue(out.contains(Self.sha256(second)), out)

                    // A file secret is stored as SecretBinary and arrives byte for byte.
                    let blob = (0..<64).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
                    let fileSecret = try await Self.createSecret(admin, "cert-pem", scope: "acme/pay", value: blob, kind: .file, connector: "sm")
                    (task, out) = try await Self.run(admin, #"sha256sum < "<+secrets.getValue("cert-pem")>" | cut -c1-64"#, scope: "acme/pay")
                    XCTAssertTrue(out.contains(Self.sha256(blob)), out)

                    // A secret that already exists in the store, referred to by path.
                    let existing: SecretView = try await admin.call(
                        .POST, "/secrets", CreateSecretRequest(name: "preexisting", scope: "acme/pay", connector: "sm", value: nil, path: "acme/pay/api-token"))
                    XCTAssertEqual(existing.status, "active")

                    // Delete removes what Legate wrote from the store; a referenced value stays.
                    var (status, _) = try await admin.raw(.DELETE, WireProtocol.apiPrefix + "/admin/secrets/\(existing.id)")
                    XCTAssertEqual(status, 204)
                    let got3 = try await Self.boto3Get(moto, "legate/acme/pay/api-token")
                    XCTAssertEqual(got3, second)
                    (status, _) = try await admin.raw(.DELETE, WireProtocol.apiPrefix + "/admin/secrets/\(s.id)")
                    XCTAssertEqual(status, 204)
                    (status, _) = try await admin.raw(.DELETE, WireProtocol.apiPrefix + "/admin/secrets/\(fileSecret.id)")
                    XCTAssertEqual(status, 204)
                    let gone = try await Self.boto3Get(moto, "legate/acme/pay/api-token")
                    XCTAssertTrue(gone.hasPrefix("ERROR ResourceNotFoundException"), gone)
                    XCTAssertGreaterThan(standIn.count("PutSecretValue") + standIn.count("CreateSecret"), 2)

                    var db = Data()
                    for file in ["manager.sqlite", "manager.sqlite-wal"] { db.append(FileManager.default.contents(atPath: m.stateDirectory + "/" + file) ?? Data()) }
                    for secret in [first, second, blob, f.secretAccessKey] {
                        XCTAssertNil(db.range(of: Data(secret.utf8)), "manager database holds a value")
                        XCTAssertFalse(logs.text.contains(secret), "a log holds a value")
                    }
                }
            }
        }
    }

    /// Reads a secret with boto3 (AWS's own SDK) using the fixture's keys: an independent check.
    static func boto3Get(_ moto: MotoServer, _ id: String) async throws -> String {
        let f = moto.fixture
        let code = """
            import boto3, sys
            c = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4])
            try:
                print(c.get_secret_value(SecretId=sys.argv[5])["SecretString"], end="")
            except c.exceptions.ResourceNotFoundException:
                print("ERROR ResourceNotFoundException", end="")
            """
        let (_, out) = try await Peers.run([try Peers.require("python"), "-c", code, moto.url, f.region, f.accessKeyId, f.secretAccessKey, id])
        return out
    }

    /// Driver-level tests talk to moto through the agent's real HTTP client.
    static func context(_ env: [String: String] = ["AWS_EC2_METADATA_DISABLED": "true"]) throws -> (ProviderContext, ProviderHTTPClient) {
        let transport = try ProviderHTTPClient(configuration: AgentConfiguration())
        return (ProviderContext(stateDirectory: Harness.tempDir("legate-aws-ctx"), logger: Logger(label: "aws"), transport: transport, environment: env), transport)
    }

    static func kmsDescriptor(_ f: MotoFixture, url: String, keyId: String? = nil, extra: [String: String] = [:], id: String? = nil, secret: String? = nil)
        -> ConnectorDescriptor
    {
        ConnectorDescriptor(
            id: "c-kms", type: "awskms", config: ["region": f.region, "keyId": keyId ?? f.keyArn, "endpoint": url].merging(extra) { _, b in b },
            credentials: ["accessKeyId": SecretBytes(utf8: id ?? f.accessKeyId), "secretAccessKey": SecretBytes(utf8: secret ?? f.secretAccessKey)])
    }

    func testMotoChecksSignaturesAndErrorsAreClear() async throws {
        try await withAWSPeers { moto, _, url in
            let f = moto.fixture
            let (ctx, transport) = try Self.context()
            defer { Task { await transport.shutdown() } }
            let registry = Self.providers
            // Correct keys: works.
            let ok = try registry.keyManager(Self.kmsDescriptor(f, url: moto.url), context: ctx)
            let report = try await ok.validate()
            XCTAssertTrue(report.ok)

            // A deliberately corrupted signature is refused by moto itself.
            let body = Array(#"{"KeyId":"\#(f.keyArn)"}"#.utf8)
            let headers = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.DescribeKey")]
            var signed = try SigV4Signer(service: "kms", region: f.region).sign(
                method: "POST", url: moto.url + "/", headers: headers, body: body,
                credentials: AWSCredentials(accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey), date: Date())
            let good = try await transport.send(ProviderHTTPRequest(method: "POST", url: moto.url + "/", headers: headers + signed, body: body), timeout: .seconds(10))
            XCTAssertEqual(good.status, 200)
            if let i = signed.firstIndex(where: { $0.0 == "Authorization" }) {
                var auth = signed[i].1
                let last = auth.removeLast()
                auth.append(last == "0" ? "1" : "0")
                signed[i].1 = auth
            }
            let bad = try await transport.send(ProviderHTTPRequest(method: "POST", url: moto.url + "/", headers: headers + signed, body: body), timeout: .seconds(10))
            XCTAssertEqual(bad.status, 403, String(decoding: bad.body, as: UTF8.self))
            XCTAssertTrue(String(decoding: bad.body, as: UTF8.self).contains("SignatureDoesNotMatch"))

            func failure(_ d: ConnectorDescriptor) async -> ProviderError? {
                do {
                    _ = try await registry.keyManager(d, context: ctx).validate()
                    return nil
                } catch { return error as? ProviderError }
            }
            let wrongSecret = await failure(Self.kmsDescriptor(f, url: moto.url, secret: "wrong" + f.secretAccessKey.dropFirst(5)))
            XCTAssertEqual(wrongSecret?.code, "aws_bad_signature")
            XCTAssertTrue(wrongSecret?.message.contains("secret access key") ?? false, wrongSecret?.message ?? "")
            XCTAssertFalse(wrongSecret?.message.contains(f.secretAccessKey) ?? true)
            let unknown = await failure(Self.kmsDescriptor(f, url: moto.url, id: "AKIAUNKNOWN000000000"))
            XCTAssertEqual(unknown?.code, "aws_unknown_access_key")
            let denied = await failure(Self.kmsDescriptor(f, url: moto.url, id: f.deniedAccessKeyId, secret: f.deniedSecretAccessKey))
            XCTAssertEqual(denied?.code, "aws_access_denied")
            XCTAssertTrue(denied?.message.contains("KMS key \(f.keyArn) in \(f.region)") ?? false, denied?.message ?? "")
            XCTAssertEqual(denied?.persistence, .permanent)
            let disabled = await failure(Self.kmsDescriptor(f, url: moto.url, keyId: f.disabledKeyArn))
            XCTAssertEqual(disabled?.code, "aws_key_disabled")
            let missing = await failure(Self.kmsDescriptor(f, url: moto.url, keyId: "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"))
            XCTAssertEqual(missing?.code, "aws_not_found")

            // An envelope moved to another identity fails in KMS (encryption context).
            let id1 = SecretIdentity(scope: "acme", name: "a", version: 1)
            let g = try await ok.generateDataKey(for: id1)
            do {
                _ = try await ok.unwrapDataKey(g.wrapped, for: SecretIdentity(scope: "acme", name: "b", version: 1))
                XCTFail("unwrapped under another identity")
            } catch let e as ProviderError {
                XCTAssertEqual(e.code, "aws_invalid_ciphertext")
            }
            // ReEncrypt to another key; the data key stays the same.
            let moved = try registry.keyManager(Self.kmsDescriptor(f, url: moto.url, keyId: f.secondKeyArn), context: ctx)
            let rewrapped = try await moved.rewrapDataKey(g.wrapped, for: id1)
            XCTAssertEqual(rewrapped.keyRef, f.secondKeyArn)
            let back = try await moved.unwrapDataKey(rewrapped, for: id1)
            XCTAssertEqual(back, g.key)
            _ = url
        }
    }

    func testDataKeyCacheMakesOneDecryptPerThousandReads() async throws {
        try await withAWSPeers { moto, standIn, url in
            let f = moto.fixture
            let (ctx, transport) = try Self.context()
            defer { Task { await transport.shutdown() } }
            let id = SecretIdentity(scope: "acme/pay", name: "hot", version: 1)
            for (cache, expected) in [("on", 1), ("off", 1000)] {
                let km = try Self.providers.keyManager(Self.kmsDescriptor(f, url: url, extra: ["dataKeyCache": cache]), context: ctx)
                let g = try await km.generateDataKey(for: id)
                standIn.resetCounts()
                let clock = ContinuousClock()
                let start = clock.now
                for _ in 0..<1000 {
                    let k = try await km.unwrapDataKey(g.wrapped, for: id)
                    XCTAssertEqual(k, g.key)
                }
                let elapsed = clock.now - start
                XCTAssertEqual(standIn.count("Decrypt"), expected, "cache \(cache)")
                print("kms: 1000 decryptions with the data-key cache \(cache): \(standIn.count("Decrypt")) KMS Decrypt calls in \(elapsed)")
            }
        }
    }

    func testThirtyPercentKMSFaultsStillSucceedAndAccessDeniedFailsAtOnce() async throws {
        let logs = LogCapture()
        try await withAWSPeers { moto, standIn, awsURL in
            let f = moto.fixture
            try await withManager(logs: logs) { m in
                try Self.installBuiltinKey(m, agents: ["a1", "a2"])
                let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
                defer { Task { await admin.shutdown() } }
                let env = ["AWS_EC2_METADATA_DISABLED": "true"]
                try await withAgents(
                    m, [AgentSpec(name: "a1", providers: Self.providers, environment: env), AgentSpec(name: "a2", providers: Self.providers, environment: env)],
                    logs: logs
                ) { _ in
                    try await Harness.eventually("agents connected") { try await admin.delegates().filter { $0.mode == .socket }.count == 2 }
                    _ = try await Self.createSecret(admin, "aws-key-id", scope: "acme", value: f.accessKeyId)
                    _ = try await Self.createSecret(admin, "aws-secret-key", scope: "acme", value: f.secretAccessKey)
                    _ = try await Self.createSecret(admin, "nobody-key-id", scope: "acme", value: f.deniedAccessKeyId)
                    _ = try await Self.createSecret(admin, "nobody-secret-key", scope: "acme", value: f.deniedSecretAccessKey)
                    let config = ["region": f.region, "keyId": f.keyArn, "endpoint": awsURL, "dataKeyCache": "off"]
                    let _: ConnectorView = try await admin.call(
                        .POST, "/connectors",
                        CreateConnectorRequest(
                            name: "kms", type: "awskms", scope: "acme", config: config,
                            credentials: ["accessKeyId": "aws-key-id", "secretAccessKey": "aws-secret-key"]))
                    let value = "fault-tolerant-\(UUID().uuidString)"
                    _ = try await Self.createSecret(admin, "flaky", scope: "acme/pay", value: value, connector: "kms")

                    standIn.setFaultRate(0.3)
                    var ids: [String] = []
                    for _ in 0..<30 {
                        let t: TaskView = try await admin.call(
                            .POST, "/tasks",
                            CreateTaskRequest(
                                shell: ShellSpec(script: #"printf '%s' "<+secrets.getValue("flaky")>" | sha256sum | cut -c1-64"#), scope: "acme/pay"))
                        ids.append(t.id)
                    }
                    let done = try await admin.waitFinal(ids, timeout: .seconds(120))
                    XCTAssertEqual(done.filter { $0.status == .succeeded }.count, 30, done.compactMap { $0.result?.message }.joined(separator: "\n"))
                    XCTAssertEqual(done.filter { $0.attempt > 1 }.count, 0, "faults were retried inside the task, not by re-queueing")
                    XCTAssertGreaterThan(standIn.faultsInjected, 3, "the relay injected too few faults to prove anything")
                    for t in ids {
                        let out = try await admin.logs(t).map(\.data).joined()
                        XCTAssertTrue(out.contains(Self.sha256(value)))
                    }
                    standIn.setFaultRate(0)

                    // A permanent AccessDenied is not retried: the task fails at once with the reason.
                    let denied: ConnectorView = try await admin.call(
                        .POST, "/connectors",
                        CreateConnectorRequest(
                            name: "kms-denied", type: "awskms", scope: "acme", config: config,
                            credentials: ["accessKeyId": "nobody-key-id", "secretAccessKey": "nobody-secret-key"]))
                    standIn.resetCounts()
                    let clock = ContinuousClock()
                    let start = clock.now
                    let v: ValidationView = try await admin.call(.POST, "/connectors/\(denied.id)/validate")
                    let elapsed = clock.now - start
                    XCTAssertFalse(v.ok)
                    XCTAssertTrue(v.message?.contains("AWS denied") ?? false, v.message ?? "")
                    XCTAssertTrue(v.message?.contains("policy") ?? false)
                    XCTAssertEqual(standIn.count("DescribeKey"), 1, "AccessDenied must not be retried")
                    XCTAssertLessThan(elapsed, .seconds(10))
                }
            }
        }
    }
}
