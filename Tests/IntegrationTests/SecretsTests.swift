import Foundation
import LegateCore
import LegateManager
import LegateWire
import XCTest

/// Secrets sealed and opened on the delegate only, scope rules, rotation, migration — and no
/// plaintext anywhere: stored logs, manager database, manager and agent logs.
final class SecretsTests: XCTestCase {
    /// A started agent subprocess with its own state directory (where the built-in keys live).
    struct Setup {
        let m: TestManager
        let admin: AdminAPI
        let agent: ChildProcess
        let stateDir: String
    }

    static func withSecretSetup<T: Sendable>(logs: LogCapture = LogCapture(), _ body: @Sendable (Setup) async throws -> T) async throws -> T {
        try await withManager(logs: logs) { m in
            let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await admin.shutdown() } }
            let dir = Harness.tempDir("legate-secrets-agent")
            let (_, tokenFile) = try await m.tokenFile("secrets")
            let agent = try ChildProcess(
                "legate",
                ["run", "--manager-url", m.url, "--token-file", tokenFile, "--ca-file", m.caFile, "--name", "keeper",
                 "--state-dir", dir, "--log-level", "debug"],
                logPath: dir + "/agent.log")
            defer { agent.signal(SIGKILL) }
            try await Harness.eventually("agent connected") { try await admin.delegates().contains { $0.name == "keeper" && $0.mode == .socket } }
            let result = try await body(Setup(m: m, admin: admin, agent: agent, stateDir: dir))
            agent.signal(SIGTERM)
            _ = await agent.wait()
            return result
        }
    }

    static func createSecret(_ admin: AdminAPI, _ name: String, scope: String, value: String, kind: SecretKind = .text,
                      connector: String? = nil, usage: [String]? = nil) async throws -> SecretView {
        try await admin.call(.POST, "/secrets", CreateSecretRequest(
            name: name, scope: scope, kind: kind, connector: connector, usageScopes: usage, value: Data(value.utf8).base64EncodedString()))
    }

    static func sha256(_ s: String) throws -> String {
        let dir = Harness.tempDir("legate-sha")
        try FileIO.write(s, to: dir + "/v", mode: 0o600)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [dir + "/v"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(String(decoding: out, as: UTF8.self).prefix(64))
    }

    func testSecretsAreUsableInTasksButNeverLeakInAnyEncoding() async throws {
        let password = #"Tr0ub4dor&3 "q" \x 'y' ~9"#
        let pem = "-----BEGIN TEST KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm\n-----END TEST KEY-----\n"
        let logs = LogCapture()
        let (taskLogs, agentOutput, stateDir, passwordHash, pemHash) = try await Self.withSecretSetup(logs: logs) { s in
            let pass = try await Self.createSecret(s.admin, "db-pass", scope: "acme/payments/checkout", value: password)
            XCTAssertEqual(pass.status, "active")
            XCTAssertEqual(pass.keyVersion, 1)
            XCTAssertNil(pass.warnings)
            _ = try await Self.createSecret(s.admin, "tls-key", scope: "acme/payments/checkout", value: pem, kind: .file)

            let script = #"""
                v="<+secrets.getValue("db-pass")>"
                f="<+secrets.getValue("tls-key")>"
                echo "raw: $v"
                printf '%s' "$v" | base64 -w0; echo
                printf 'a%s' "$v" | base64 -w0; echo
                printf 'ab%s' "$v" | base64 -w0; echo
                printf '%s--suffix' "$v" | base64 -w0; echo
                printf '%s' "$v" | python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))'
                printf '%s' "$v" | python3 -c 'import sys,json; print(json.dumps({"password": sys.stdin.read()}))'
                printf '%s' "$v" >&2; echo >&2
                half=${#v}; half=$((half / 2))
                printf '%s' "$(printf '%s' "$v" | cut -c1-$half)"; sleep 0.5; printf '%s\n' "$(printf '%s' "$v" | cut -c$((half + 1))-)"
                cat "$f"
                python3 -c 'import sys,json; print(json.dumps(open(sys.argv[1]).read()))' "$f"
                ls -l "$f" | cut -c1-10
                printf '%s' "$v" | sha256sum | cut -c1-64
                sha256sum < "$f" | cut -c1-64
                """#
            let scoped: TaskView = try await s.admin.call(
                .POST, "/tasks", CreateTaskRequest(shell: ShellSpec(script: script), scope: "acme/payments/checkout"))
            let done = try await s.admin.waitFinal([scoped.id])
            XCTAssertEqual(done.first?.status, .succeeded, done.first?.result?.message ?? "")
            let text = try await s.admin.logs(scoped.id).map(\.data).joined()
            return (text, s.agent.output, s.m.stateDirectory, try Self.sha256(password), try Self.sha256(pem))
        }
        // The task really had the values: their hashes came out.
        XCTAssertTrue(taskLogs.contains(passwordHash), taskLogs)
        XCTAssertTrue(taskLogs.contains(pemHash), taskLogs)
        XCTAssertTrue(taskLogs.contains("raw: ***"), taskLogs)
        XCTAssertTrue(taskLogs.contains("-rw-------"), "file secret must be 0600: \(taskLogs)")

        // No form of either secret anywhere.
        var forms: [String] = [password, String(password.prefix(12)), String(password.suffix(12))]
        for prefix in ["", "a", "ab"] { forms.append(String(Data((prefix + password).utf8).base64EncodedString().dropFirst(prefix.isEmpty ? 0 : 4).prefix(16))) }
        forms.append(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password)
        forms.append(String(decoding: try JSONEncoder().encode(password), as: UTF8.self).dropFirst().dropLast().description)
        for line in pem.split(separator: "\n") where line.count > 20 { forms.append(String(line)) }
        var db = Data()
        for f in ["manager.sqlite", "manager.sqlite-wal"] { db.append(FileManager.default.contents(atPath: stateDir + "/" + f) ?? Data()) }
        for form in forms {
            XCTAssertFalse(taskLogs.contains(form), "task log leaks \(form.count)-char form: \(taskLogs)")
            XCTAssertFalse(agentOutput.contains(form), "agent log leaks a form")
            XCTAssertFalse(logs.text.contains(form), "manager log leaks a form")
            XCTAssertNil(db.range(of: Data(form.utf8)), "manager database holds a form of the secret")
        }
    }

    func testScopeRulesDecideWhichSecretsATaskMayUse() async throws {
        try await Self.withSecretSetup { s in
            _ = try await Self.createSecret(s.admin, "acct-key", scope: "acme", value: "account-level-value")
            _ = try await Self.createSecret(s.admin, "org-key", scope: "acme/payments", value: "org-level-value")
            _ = try await Self.createSecret(s.admin, "proj-key", scope: "acme/payments/checkout", value: "project-level-value")
            _ = try await Self.createSecret(s.admin, "other-key", scope: "acme/payments/refunds", value: "other-project-value")
            _ = try await Self.createSecret(s.admin, "hr-only", scope: "acme", value: "restricted-value", usage: ["acme/hr"])
            let short = try await Self.createSecret(s.admin, "pin", scope: "acme", value: "123")
            XCTAssertTrue(short.warnings?.first?.contains("shorter than 4") ?? false, "\(short)")

            func create(_ script: String, scope: String?) async throws -> (Int, String) {
                let body = try WireCoding.encode(CreateTaskRequest(shell: ShellSpec(script: script), scope: scope))
                let (status, data) = try await s.admin.raw(.POST, WireProtocol.apiPrefix + "/admin/tasks", body: body)
                return (status, String(decoding: data, as: UTF8.self))
            }
            let ok = try await create(
                #"echo <+secrets.getValue("proj-key")> <+secrets.getValue("org.org-key")> <+secrets.getValue('account.acct-key')> | wc -w"#,
                scope: "acme/payments/checkout")
            XCTAssertEqual(ok.0, 201, ok.1)
            let view = try WireCoding.decoder().decode(TaskView.self, from: Data(ok.1.utf8))
            let done = try await s.admin.waitFinal([view.id])
            XCTAssertEqual(done.first?.status, .succeeded)
            let out = try await s.admin.logs(view.id).map(\.data).joined()
            XCTAssertEqual(out.trimmingWhitespace(), "3")

            let other = try await create(#"echo <+secrets.getValue("other-key")>"#, scope: "acme/payments/checkout")
            XCTAssertEqual(other.0, 400)
            XCTAssertTrue(other.1.contains("secret_not_found") && other.1.contains("other-key"), other.1)
            let restricted = try await create(#"echo <+secrets.getValue("account.hr-only")>"#, scope: "acme/payments/checkout")
            XCTAssertEqual(restricted.0, 403)
            XCTAssertTrue(restricted.1.contains("usage_scope_violation") && restricted.1.contains("hr-only") && restricted.1.contains("acme/hr"), restricted.1)
            let hrOK = try await create(#"echo <+secrets.getValue("account.hr-only")> >/dev/null"#, scope: "acme/hr/onboarding")
            XCTAssertEqual(hrOK.0, 201, hrOK.1)
            let orgFromAccount = try await create(#"echo <+secrets.getValue("org.org-key")>"#, scope: "acme")
            XCTAssertEqual(orgFromAccount.0, 400)
            XCTAssertTrue(orgFromAccount.1.contains("account.org-key"), orgFromAccount.1)
            let broken = try await create(#"echo <+secrets.getValue("proj-key"> done"#, scope: "acme/payments/checkout")
            XCTAssertEqual(broken.0, 400)
            XCTAssertTrue(broken.1.contains("invalid_secret_expression") && broken.1.contains("script, column 6"), broken.1)
            let noScope = try await create(#"echo <+secrets.getValue("proj-key")>"#, scope: nil)
            XCTAssertEqual(noScope.0, 400)
            XCTAssertTrue(noScope.1.contains("scope_required"), noScope.1)

            // A secret must live inside its connector's scope.
            let _: ConnectorView = try await s.admin.call(
                .POST, "/connectors", CreateConnectorRequest(name: "payments-keys", type: "builtin", scope: "acme/payments"))
            let body = try WireCoding.encode(CreateSecretRequest(
                name: "x", scope: "acme/hr", connector: "payments-keys", value: Data("value-1234".utf8).base64EncodedString()))
            let (status, data) = try await s.admin.raw(.POST, WireProtocol.apiPrefix + "/admin/secrets", body: body)
            XCTAssertEqual(status, 404, String(decoding: data, as: UTF8.self))  // not visible from acme/hr
            let body2 = try WireCoding.encode(CreateSecretRequest(
                name: "x", scope: "acme", connector: "payments-keys", value: Data("value-1234".utf8).base64EncodedString()))
            let (status2, data2) = try await s.admin.raw(.POST, WireProtocol.apiPrefix + "/admin/secrets", body: body2)
            XCTAssertEqual(status2, 404, String(decoding: data2, as: UTF8.self))
        }
    }

    func testRotationRewrapAndMigrationBetweenBuiltinConnectors() async throws {
        try await Self.withSecretSetup { s in
            let values = ["alpha-secret-value-1", "bravo-secret-value-2", "charlie-secret-value-3"]
            for (i, v) in values.enumerated() { _ = try await Self.createSecret(s.admin, "k\(i)", scope: "acme/ops", value: v) }
            let validation: ValidationView = try await s.admin.call(.POST, "/connectors/builtin/validate")
            XCTAssertTrue(validation.ok, "\(validation)")
            XCTAssertTrue(validation.checks.joined().contains("round trip"), "\(validation)")

            // Rotate the delegate's key, re-wrap everything, remove the old version.
            let rotate = try ChildProcess("legate", ["keys", "rotate", "--state-dir", s.stateDir, "--key-ref", "default"], logPath: s.stateDir + "/rotate.log")
            let rotateStatus = await rotate.wait()
            XCTAssertEqual(rotateStatus, 0, rotate.output)
            let r: RewrapResponse = try await s.admin.call(.POST, "/secrets/rewrap", RewrapRequest(connector: "builtin"))
            XCTAssertEqual(r.rewrapped.count, 3, "\(r)")
            XCTAssertTrue(r.failed.isEmpty, "\(r)")
            let after: [SecretView] = try await s.admin.call(.GET, "/secrets")
            XCTAssertEqual(after.map(\.keyVersion), [2, 2, 2])
            let remove = try ChildProcess(
                "legate", ["keys", "remove", "--state-dir", s.stateDir, "--key-ref", "default", "--version", "1"], logPath: s.stateDir + "/remove.log")
            let removeStatus = await remove.wait()
            XCTAssertEqual(removeStatus, 0, remove.output)

            // Migrate one secret to a second built-in connector with its own key.
            let _: ConnectorView = try await s.admin.call(.POST, "/connectors", CreateConnectorRequest(name: "vault-b", type: "builtin", scope: "acme"))
            let k1 = try XCTUnwrap(after.first { $0.name == "k1" })
            let moved: SecretView = try await s.admin.call(.POST, "/secrets/\(k1.id)/migrate", MigrateRequest(connector: "vault-b"))
            XCTAssertEqual(moved.connectorName, "vault-b")
            XCTAssertTrue(FileManager.default.fileExists(atPath: s.stateDir + "/keys/vault-b/v1.key"))

            let script = #"for v in "<+secrets.getValue("k0")>" "<+secrets.getValue("k1")>" "<+secrets.getValue("k2")>"; do printf '%s' "$v" | sha256sum | cut -c1-64; done"#
            let t: TaskView = try await s.admin.call(.POST, "/tasks", CreateTaskRequest(shell: ShellSpec(script: script), scope: "acme/ops"))
            let done = try await s.admin.waitFinal([t.id])
            XCTAssertEqual(done.first?.status, .succeeded, done.first?.result?.message ?? "")
            let out = try await s.admin.logs(t.id).map(\.data).joined()
            XCTAssertEqual(out.split(separator: "\n").map(String.init), try values.map { try Self.sha256($0) })

            let audit: [AuditEntry] = try await s.admin.call(.GET, "/audit")
            let actions = Set(audit.map(\.action))
            for a in ["secret.create", "secret.rewrap", "secret.migrate", "connector.validate", "connector.create", "secret.use"] {
                XCTAssertTrue(actions.contains(a), "audit lacks \(a): \(actions)")
            }
            let auditText = audit.map { "\($0.actor) \($0.target) \($0.detail)" }.joined()
            for v in values { XCTAssertFalse(auditText.contains(v)) }
            XCTAssertTrue(audit.allSatisfy { $0.actor.hasPrefix("key_") }, "actors: \(audit.map(\.actor))")
        }
    }
}
