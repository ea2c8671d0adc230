import Foundation
import LegateCore
import XCTest

/// `legate secrets-load` (seed 004) as a subprocess against real OpenBao and PostgreSQL: the seed's
/// own values examples, every troubleshooting row, dynamic database credentials that really log
/// in, and `--watch` (reload on change, lease renewal and replacement, signal forwarding). Every
/// run's stdout and stderr is scanned for the secret values.
final class LoaderTests: XCTestCase {
    // MARK: the seed's examples (Step 5), verbatim but for the placeholders

    static let seedToken = """
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
                serviceAccount: "<serviceaccount>"       # loader serviceaccount for auth
        """

    /// The seed's runtime policy (Step 3.3) for engine `secret` and base path `harness`.
    static let runtimePolicy = """
        path "secret/data/harness/*" {
          capabilities = ["read"]
        }

        path "secret/metadata/harness/*" {
          capabilities = ["list"]
        }
        """

    static func values(_ template: String, address: String, token: String = "", serviceAccount: String = "harness-default") -> String {
        template.replacingOccurrences(of: "http://vault.vault.svc.cluster.local:8200", with: address)
            .replacingOccurrences(of: "hvs.your-token-here", with: token)
            .replacingOccurrences(of: "<serviceaccount>", with: serviceAccount)
    }

    /// A values file in its own directory; returns its path.
    static func write(_ text: String, name: String = "override.yaml") throws -> String {
        let path = Harness.tempDir("legate-loader-values") + "/" + name
        try FileIO.write(text, to: path, mode: 0o600)
        return path
    }

    static func token(_ bao: BaoServer, policies: [String], ttl: String = "1h") async throws -> String {
        let created = try await bao.api(.POST, "auth/token/create", ["policies": policies, "ttl": ttl, "renewable": true])
        return (created["auth"] as? [String: Any])?["client_token"] as? String ?? ""
    }

    static func kvPut(_ bao: BaoServer, _ path: String, _ data: [String: String]) async throws {
        try await bao.api(.POST, "secret/data/" + path, ["data": data])
    }

    /// The seed's Kubernetes setup (Step 3): the runtime policy and role `harness` bound to
    /// service account harness-default in namespace harness.
    static func seedRuntime(_ bao: BaoServer) async throws {
        try await bao.api(.PUT, "sys/policies/acl/harness-runtime", ["policy": runtimePolicy])
        try await bao.api(.POST, "auth/kubernetes/role/harness", [
            "bound_service_account_names": ["harness-default"], "bound_service_account_namespaces": ["harness"], "policies": ["harness-runtime"],
            "ttl": "1h",
        ])
    }

    static func mode(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_mode & 0o7777) : -1
    }

    /// None of `secrets` (values, tokens, markers inside every value) may appear in a run's output.
    static func assertNoSecrets(_ output: String, _ secrets: [String], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for s in secrets where !s.isEmpty {
            XCTAssertFalse(output.contains(s), "\(what): a secret value appears in the loader's output", file: file, line: line)
        }
    }

    /// The directory holds only `expected` (no temporary or half-written output next to it).
    static func assertOnly(_ dir: String, _ expected: Set<String>, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let names = Set((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
        XCTAssertEqual(names, expected, "\(what): \(dir) holds \(names.sorted())", file: file, line: line)
    }

    /// Reads `.env` back through /bin/sh (`set -a; . .env`), each variable's bytes into a file.
    static func readWithSh(_ envFile: String, names: [String]) async throws -> [String: String] {
        let scratch = Harness.tempDir("legate-loader-sh")
        chmod(scratch, 0o700)
        let script = "set -a; . \"$1\"; set +a; shift; for n in \"$@\"; do eval \"printf '%s' \\\"\\$$n\\\"\" > \"$OUT/$n\"; done"
        let r = try await Command.run(["/bin/sh", "-c", script, "sh", envFile] + names, env: ["OUT": scratch])
        XCTAssertEqual(r.status, 0, r.output)
        var out: [String: String] = [:]
        for n in names { out[n] = try? String(contentsOfFile: scratch + "/" + n, encoding: .utf8) }
        try? FileManager.default.removeItem(atPath: scratch)
        return out
    }

    /// Reads `.env` with python-dotenv (the parser docker-compose v1 uses; compose-style rules).
    static func readWithDotenv(_ envFile: String) async throws -> [String: String] {
        let python = try Peers.require("python3")
        let r = try await Peers.run([
            python, "-c", "import json, sys, dotenv; json.dump(dotenv.dotenv_values(sys.argv[1], interpolate=False), sys.stdout)", envFile,
        ])
        XCTAssertEqual(r.status, 0)
        return (try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: String]) ?? [:]
    }

    /// docs/loader.md: values with a quote or backslash and a `$` or backquote, or a carriage
    /// return, are exact in sh only.
    static func shellOnly(_ v: String) -> Bool {
        let s = Set(v.unicodeScalars)
        return s.contains("\r") || ((s.contains("'") || s.contains("\\")) && (s.contains("$") || s.contains("`")))
    }

    // MARK: seed examples

    func testSeedExamplesWriteEnvAndFilesWithTokenAndKubernetesAuth() async throws {
        try await withVaultPeers { bao, _, k8s in
            try await Self.seedRuntime(bao)
            let token = try await Self.token(bao, policies: ["harness-runtime"])
            let m = "mk" + UUID().uuidString.prefix(8).lowercased()
            let env: [String: String] = [
                "API_KEY": "key-\(m)-plain",
                "LICENSE_KEY": "LIC \(m) with spaces  ",
                "QUOTES": "it's \"quoted\" \(m)",
                "DOLLAR": "$HOME ${PATH} $(id) \(m) `id` #no-comment",
                "BACKSLASH": "C:\\temp\\\(m)\\n\\",
                "NEWLINES": "line1 \(m)\nline2\n\n",
                "MIXED": "'$\(m)' \\ `x`",
                "EMPTY": "",
                "ca.pem": "-----BEGIN CERTIFICATE-----\nCA\(m)\n-----END CERTIFICATE-----\n",
            ]
            let binary = Identifiers.randomBytes(300) + Array(m.utf8)
            let p12 = Identifiers.randomBytes(64)
            let files: [String: String] = [
                "tls.crt": "-----BEGIN CERTIFICATE-----\nMII\(m)\n-----END CERTIFICATE-----\n",
                "tls.key": "-----BEGIN PRIVATE KEY-----\nKEY\(m)\n-----END PRIVATE KEY-----\n",
                "keystore.jks": Data(binary).base64EncodedString(options: .lineLength76Characters),
                "truststore.p12": Data(p12).base64EncodedString(),
                "config.yaml": "password: \(m)\n",
                "blob.bin": Data(Array("blob \(m)".utf8)).base64EncodedString(), "blob.bin_encoding": "base64",
            ]
            try await Self.kvPut(bao, "harness/platform-service/env-secrets", env)
            try await Self.kvPut(bao, "harness/platform-service/file-secrets", files)
            let jwt = k8s.issue(namespace: "harness", serviceAccount: "harness-default")
            let saFile = Harness.tempDir("legate-loader-sa") + "/token"
            try FileIO.write(jwt, to: saFile, mode: 0o600)
            let secrets = [m, token, jwt, files["keystore.jks"] ?? "", files["truststore.p12"] ?? ""]

            let base = Harness.tempDir("legate-loader-out")
            let runs: [(name: String, values: String, args: [String])] = [
                ("token", Self.values(Self.seedToken, address: bao.url, token: token), []),
                ("kubernetes", Self.values(Self.seedKubernetes, address: bao.url), ["--service-account-token-file", saFile]),
            ]
            var envFiles: [String] = []
            for run in runs {
                let out = base + "/\(run.name)/secrets"
                let r = try await Command.legate(
                    ["secrets-load", "-f", try Self.write(run.values), "--service", "platform-service", "--output", out] + run.args)
                XCTAssertEqual(r.status, 0, "\(run.name): \(r.output)")
                Self.assertNoSecrets(r.output, secrets, run.name)
                XCTAssertEqual(Self.mode(out), 0o700, run.name)
                XCTAssertEqual(Self.mode(out + "/.env"), 0o600, run.name)
                XCTAssertEqual(Self.mode(out + "/files"), 0o700, run.name)
                Self.assertOnly(base + "/\(run.name)", ["secrets"], run.name)
                Self.assertOnly(out + "/files", ["ca.pem", "tls.crt", "tls.key", "keystore.jks", "truststore.p12", "config.yaml", "blob.bin"], run.name)
                for name in (try? FileManager.default.contentsOfDirectory(atPath: out + "/files")) ?? [] {
                    XCTAssertEqual(Self.mode(out + "/files/" + name), 0o600, "\(run.name) \(name)")
                }
                let read = { (name: String) in FileManager.default.contents(atPath: out + "/files/" + name) ?? Data() }
                XCTAssertEqual(read("tls.crt"), Data((files["tls.crt"] ?? "").utf8))
                XCTAssertEqual(read("tls.key"), Data((files["tls.key"] ?? "").utf8))
                XCTAssertEqual(read("ca.pem"), Data((env["ca.pem"] ?? "").utf8), "a key with a file extension in env-secrets is a file")
                XCTAssertEqual(read("keystore.jks"), Data(binary), ".jks is stored base64")
                XCTAssertEqual(read("truststore.p12"), Data(p12), ".p12 is stored base64")
                XCTAssertEqual(read("blob.bin"), Data("blob \(m)".utf8), "<key>_encoding: base64 marks a base64 value")
                XCTAssertEqual(read("config.yaml"), Data((files["config.yaml"] ?? "").utf8))

                let variables = env.keys.filter { !$0.contains(".") }.sorted()
                let viaSh = try await Self.readWithSh(out + "/.env", names: variables)
                for name in variables { XCTAssertEqual(viaSh[name], env[name], "\(run.name): \(name) through sh") }
                let viaDotenv = try await Self.readWithDotenv(out + "/.env")
                XCTAssertEqual(Set(viaDotenv.keys), Set(variables), run.name)
                for name in variables where !Self.shellOnly(env[name] ?? "") {
                    XCTAssertEqual(viaDotenv[name], env[name], "\(run.name): \(name) through python-dotenv")
                }
                XCTAssertTrue(r.output.contains("variables=MIXED"), "shell-only values are named: \(r.output)")
                envFiles.append(out + "/.env")
            }
            XCTAssertEqual(FileManager.default.contents(atPath: envFiles[0]), FileManager.default.contents(atPath: envFiles[1]), "both auth methods load the same")

            // A second run replaces the whole output: a file deleted in Vault disappears.
            var fewer = files
            fewer["config.yaml"] = nil
            try await Self.kvPut(bao, "harness/platform-service/file-secrets", fewer)
            let again = try await Command.legate([
                "secrets-load", "-f", try Self.write(runs[0].values), "--service", "platform-service", "--output", base + "/token/secrets",
            ])
            XCTAssertEqual(again.status, 0, again.output)
            XCTAssertNil(FileManager.default.contents(atPath: base + "/token/secrets/files/config.yaml"))
            Self.assertOnly(base + "/token", ["secrets"], "after a replacement")
        }
    }

    // MARK: database credentials

    /// The database engine on `pg`: connection `pg` and one role per entry of `roles`
    /// (name → (default_ttl, max_ttl)).
    static func configureDatabase(_ bao: BaoServer, _ pg: PostgresPeer, roles: [String: (String, String)]) async throws {
        try await bao.api(.POST, "sys/mounts/database", ["type": "database"])
        try await bao.api(.POST, "database/config/pg", [
            "plugin_name": "postgresql-database-plugin", "connection_url": pg.connectionURL, "username": pg.adminUser, "password": pg.adminPassword,
            "allowed_roles": "*", "verify_connection": true,
        ])
        for (role, ttl) in roles {
            try await bao.api(.POST, "database/roles/\(role)", [
                "db_name": "pg", "default_ttl": ttl.0, "max_ttl": ttl.1,
                "creation_statements": [#"CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"#],
            ])
        }
    }

    /// A `.env` read back through sh.
    static func variables(_ envFile: String, _ names: [String]) async throws -> [String: String] {
        try await readWithSh(envFile, names: names)
    }

    func testDatabaseCredentialsDynamicLogInAndStaticFromKV() async throws {
        try await withVaultPeers { bao, _, _ in
            try await withPostgres { pg in
                try await Self.configureDatabase(bao, pg, roles: ["harness-timescaledb-role": ("5m", "1h")])
                let token = try await Self.token(bao, policies: ["legate"])
                let m = "db" + UUID().uuidString.prefix(8).lowercased()
                try await Self.kvPut(bao, "harness/ng-manager/env-secrets", ["SMP_LICENSE": "license-\(m)"])
                try await bao.api(.POST, "kv1/external/mongo", ["username": "mongo-\(m)", "password": "mongo pass \(m)"])
                try await Self.kvPut(bao, "harness/redis", ["password": "redis-\(m)"])
                // The seed's database examples (Step 6), merged over the token example like a second -f file.
                let databases = """
                    global:
                      externalSecretsLoader:
                        databases:
                          timescaledb:
                            useDatabaseSecretsEngine: "true"
                            databaseRole: "harness-timescaledb-role"
                            engine: ""
                            overridePath: ""
                          mongo:
                            engine: "kv1"        # KV engine name for static credentials
                            overridePath: "external/mongo"  # Vault path where static credentials are stored
                          redis:
                            useDatabaseSecretsEngine: "false"
                    """
                let out = Harness.tempDir("legate-loader-db") + "/secrets"
                let r = try await Command.legate(
                    [
                        "secrets-load", "--values", try Self.write(Self.values(Self.seedToken, address: bao.url)), "-f", try Self.write(databases),
                        "--service", "ng-manager", "--output", out,
                    ], env: ["VAULT_TOKEN": token])
                XCTAssertEqual(r.status, 0, r.output)
                let names = ["SMP_LICENSE", "TIMESCALEDB_USERNAME", "TIMESCALEDB_PASSWORD", "MONGO_USERNAME", "MONGO_PASSWORD", "REDIS_PASSWORD"]
                let v = try await Self.variables(out + "/.env", names)
                XCTAssertEqual(v["SMP_LICENSE"], "license-\(m)")
                XCTAssertEqual(v["MONGO_USERNAME"], "mongo-\(m)", "static credentials from KV v1 at the override path")
                XCTAssertEqual(v["MONGO_PASSWORD"], "mongo pass \(m)")
                XCTAssertEqual(v["REDIS_PASSWORD"], "redis-\(m)", "static credentials at <engine>/<basePath>/<db> by default")
                let user = v["TIMESCALEDB_USERNAME"] ?? ""
                let password = v["TIMESCALEDB_PASSWORD"] ?? ""
                XCTAssertFalse(user.isEmpty)
                let loggedIn = try await pg.login(user: user, password: password)
                XCTAssertEqual(loggedIn, user, "the dynamic credentials log in to PostgreSQL")
                let wrong = try await pg.login(user: user, password: password + "x")
                XCTAssertNil(wrong, "and a wrong password does not")
                Self.assertNoSecrets(r.output, [m, token, password], "database load")
                XCTAssertTrue(r.output.contains("database_leases=1"), r.output)
            }
        }
    }

    // MARK: troubleshooting table

    func testEveryTroubleshootingRowExitsWithItsOwnMessage() async throws {
        try await withVaultPeers { bao, fx, k8s in
            try await Self.seedRuntime(bao)
            let m = "ts" + UUID().uuidString.prefix(8).lowercased()
            try await Self.kvPut(bao, "harness/platform-service/env-secrets", ["API_KEY": "api-\(m)"])
            try await bao.api(.PUT, "sys/policies/acl/narrow", ["policy": #"path "secret/data/other/*" { capabilities = ["read"] }"#])
            let narrow = try await Self.token(bao, policies: ["narrow"])
            let good = try await Self.token(bao, policies: ["harness-runtime"])
            let broad = try await Self.token(bao, policies: ["legate"])
            let closed = try LoopbackPort.free()
            let saDir = Harness.tempDir("legate-loader-sa")
            let otherJWT = k8s.issue(namespace: "legate", serviceAccount: "legate-loader")
            try FileIO.write(otherJWT, to: saDir + "/other", mode: 0o600)
            let secrets = [m, narrow, good, broad, otherJWT, fx.appRoleSecretId, "wrong-\(m)"]

            let token = Self.values(Self.seedToken, address: bao.url, token: "")
            let kubernetes = Self.values(Self.seedKubernetes, address: bao.url)
            let noServiceAccount = kubernetes.replacingOccurrences(of: "serviceAccount: \"harness-default\"", with: "")
            let approle = Self.seedToken.replacingOccurrences(of: "method: \"token\"", with: "method: \"approle\"")
                .replacingOccurrences(of: "http://vault.vault.svc.cluster.local:8200", with: bao.url)
                .replacingOccurrences(of: "token: \"hvs.your-token-here\" #Plaintext token", with: "role: \"legate\"")
            let dynamic = token + "\n    databases:\n      timescaledb:\n        useDatabaseSecretsEngine: \"true\"\n        databaseRole: \"no-such-role\"\n"

            struct Row {
                var name: String
                var values: String
                var env: [String: String] = [:]
                var args: [String] = []
                var status: Int32
                var phrases: [String]
            }
            let rows: [Row] = [
                Row(
                    name: "permission denied (policy lacks the path)", values: token, env: ["VAULT_TOKEN": narrow], status: 4,
                    phrases: ["permission denied:", "secret/harness/platform-service/env-secrets", "read on secret/data/harness/platform-service/*", "policy"]),
                Row(
                    name: "secret not found (wrong service)", values: token, env: ["VAULT_TOKEN": good], args: ["--service", "platfrom-service"], status: 5,
                    phrases: ["secret not found:", "secret/harness/platfrom-service/env-secrets", "'platfrom-service'", "basePath 'harness'"]),
                Row(
                    name: "secret not found (database role)", values: dynamic, env: ["VAULT_TOKEN": broad], status: 5,
                    phrases: ["secret not found:", "no-such-role", "databases.timescaledb.databaseRole"]),
                Row(
                    name: "connection refused", values: Self.values(Self.seedToken, address: "http://127.0.0.1:\(closed)"), env: ["VAULT_TOKEN": good],
                    status: 6, phrases: ["connection refused:", "http://127.0.0.1:\(closed)", "vault.address"]),
                Row(
                    name: "no such host", values: Self.values(Self.seedToken, address: "http://vault.invalid:8200"), env: ["VAULT_TOKEN": good], status: 6,
                    phrases: ["no such host:", "vault.invalid", "vault.address"]),
                Row(
                    name: "bad auth (wrong token)", values: token, env: ["VAULT_TOKEN": "wrong-\(m)"], status: 3,
                    phrases: ["bad auth:", "token from VAULT_TOKEN", "wrong, expired or revoked"]),
                Row(
                    name: "bad auth (role not bound to the service account)", values: noServiceAccount, args: ["--service-account-token-file", saDir + "/other"],
                    status: 3, phrases: ["bad auth:", "role 'harness'", "bound to this pod's service account"]),
                Row(
                    name: "bad auth (service account mismatch)", values: kubernetes, args: ["--service-account-token-file", saDir + "/other"], status: 3,
                    phrases: ["bad auth:", "belongs to service account 'legate-loader'", "vault.auth.serviceAccount is 'harness-default'"]),
                Row(
                    name: "bad auth (no service-account token mounted)", values: kubernetes, args: ["--service-account-token-file", saDir + "/missing"], status: 3,
                    phrases: ["bad auth:", saDir + "/missing", "automountServiceAccountToken"]),
                Row(
                    name: "bad auth (AppRole secret id)", values: approle, env: ["VAULT_ROLE_ID": fx.appRoleId, "VAULT_SECRET_ID": "wrong-\(m)"], status: 3,
                    phrases: ["bad auth:", "approle auth", "secret_id"]),
                Row(
                    name: "unknown key", values: token.replacingOccurrences(of: "basePath:", with: "basepath:"), env: ["VAULT_TOKEN": good], status: 2,
                    phrases: ["unknown key 'basepath' in global.externalSecretsLoader.vault", "did you mean 'basePath'", "override.yaml:8"]),
            ]
            let clock = ContinuousClock()
            for row in rows {
                let parent = Harness.tempDir("legate-loader-fail")
                let started = clock.now
                let r = try await Command.legate(
                    ["secrets-load", "-f", try Self.write(row.values), "--service", "platform-service", "--output", parent + "/secrets"] + row.args, env: row.env)
                if ProcessInfo.processInfo.environment["LEGATE_TEST_VERBOSE"] != nil { print("[\(row.name)] exit \(r.status ?? -1): \(r.output)") }
                XCTAssertEqual(r.status, row.status, "\(row.name): \(r.output)")
                for phrase in row.phrases { XCTAssertTrue(r.output.contains(phrase), "\(row.name): '\(phrase)' missing from: \(r.output)") }
                XCTAssertTrue(r.output.contains("legate secrets-load: error: "), row.name)
                Self.assertOnly(parent, [], "\(row.name): nothing is written")
                Self.assertNoSecrets(r.output, secrets, row.name)
                XCTAssertLessThan(clock.now - started, .seconds(15), "\(row.name) fails fast")
            }

            // AppRole works with the right secret id; a later failing run leaves that output as it was.
            let parent = Harness.tempDir("legate-loader-keep")
            let ok = try await Command.legate(
                ["secrets-load", "-f", try Self.write(approle), "--service", "platform-service", "--output", parent + "/secrets"],
                env: ["VAULT_ROLE_ID": fx.appRoleId, "VAULT_SECRET_ID": fx.appRoleSecretId])
            XCTAssertEqual(ok.status, 0, ok.output)
            let before = FileManager.default.contents(atPath: parent + "/secrets/.env")
            XCTAssertNotNil(before)
            let failed = try await Command.legate(
                ["secrets-load", "-f", try Self.write(approle), "--service", "missing-service", "--output", parent + "/secrets"],
                env: ["VAULT_ROLE_ID": fx.appRoleId, "VAULT_SECRET_ID": fx.appRoleSecretId])
            XCTAssertEqual(failed.status, 5, failed.output)
            XCTAssertEqual(FileManager.default.contents(atPath: parent + "/secrets/.env"), before, "a failed run leaves the previous output")
            Self.assertOnly(parent, ["secrets"], "after a failed run")
            Self.assertNoSecrets(ok.output + failed.output, secrets, "approle")

            let help = try await Command.legate(["secrets-load", "--help"])
            XCTAssertEqual(help.status, 0)
            for phrase in ["externalSecretsLoader", "--watch", "--on-change", "VAULT_TOKEN", "Exit status", "set -a"] {
                XCTAssertTrue(help.output.contains(phrase), "--help explains \(phrase)")
            }
        }
    }

    // MARK: --watch

    /// Starts `legate secrets-load --watch … -- <args>` as a child process.
    static func watch(_ values: String, service: String, output: String, args: [String] = [], env: [String: String], command: [String]) throws -> ChildProcess {
        try ChildProcess(
            "legate", ["secrets-load", "-f", try Self.write(values), "--service", service, "--output", output, "--watch"] + args + ["--"] + command,
            env: env, logPath: Harness.tempDir("legate-loader-watch") + "/loader.log")
    }

    static func state(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").components(separatedBy: "|")
    }

    func testWatchReloadsOnChangeAndForwardsSIGTERM() async throws {
        try await withVaultPeers { bao, _, _ in
            try await Self.seedRuntime(bao)
            let token = try await Self.token(bao, policies: ["harness-runtime"])
            let m = "w" + UUID().uuidString.prefix(8).lowercased()
            try await Self.kvPut(bao, "harness/gateway/env-secrets", ["API_KEY": "one \(m)"])
            try await Self.kvPut(bao, "harness/gateway/file-secrets", ["tls.crt": "cert-one-\(m)"])
            let values = Self.values(Self.seedToken, address: bao.url)
            let dir = Harness.tempDir("legate-loader-w")
            // The child reports what it sees: its pid, API_KEY, the file, and whether the loader's
            // own token reached it (it must not).
            let report = #"printf '%s|%s|%s|%s' "$$" "$API_KEY" "$(cat "$OUT/files/tls.crt")" "${VAULT_TOKEN:+leaked}" > "$STATE.tmp"; mv "$STATE.tmp" "$STATE""#
            let restartScript = "trap 'exit 42' TERM; while :; do \(report); sleep 0.1; done"
            let signalScript = "trap 'set -a; . \"$OUT/.env\"; set +a' HUP; trap 'exit 7' TERM; while :; do \(report); sleep 0.1; done"
            let restart = try Self.watch(
                values, service: "gateway", output: dir + "/r", args: ["--interval", "1"], env: ["VAULT_TOKEN": token, "OUT": dir + "/r", "STATE": dir + "/r.state"],
                command: ["/bin/sh", "-c", restartScript])
            let signal = try Self.watch(
                values, service: "gateway", output: dir + "/s", args: ["--interval", "1", "--on-change", "signal:HUP"],
                env: ["VAULT_TOKEN": token, "OUT": dir + "/s", "STATE": dir + "/s.state"], command: ["/bin/sh", "-c", signalScript])
            try await Harness.eventually("both children see the first values", timeout: .seconds(15)) {
                Self.state(dir + "/r.state").dropFirst().first == "one \(m)" && Self.state(dir + "/s.state").dropFirst().first == "one \(m)"
            }
            let firstRestartPid = Self.state(dir + "/r.state")[0]
            let firstSignalPid = Self.state(dir + "/s.state")[0]
            XCTAssertEqual(Self.state(dir + "/r.state"), [firstRestartPid, "one \(m)", "cert-one-\(m)", ""], "the loader's VAULT_TOKEN is withheld")

            try await Self.kvPut(bao, "harness/gateway/env-secrets", ["API_KEY": "two \(m)"])
            try await Self.kvPut(bao, "harness/gateway/file-secrets", ["tls.crt": "cert-two-\(m)"])
            let took = try await Harness.eventually("both children see the changed values", timeout: .seconds(10)) {
                Self.state(dir + "/r.state").dropFirst().first == "two \(m)" && Self.state(dir + "/s.state").dropFirst().first == "two \(m)"
                    && Self.state(dir + "/s.state").dropFirst(2).first == "cert-two-\(m)"
            }
            XCTAssertLessThan(took, .seconds(4), "a change shows within the poll interval (1 s) plus a restart")
            XCTAssertNotEqual(Self.state(dir + "/r.state")[0], firstRestartPid, "restart mode restarted the command")
            XCTAssertEqual(Self.state(dir + "/s.state")[0], firstSignalPid, "signal mode kept the command and sent SIGHUP")
            XCTAssertEqual(Self.state(dir + "/r.state")[2], "cert-two-\(m)")
            XCTAssertEqual(Self.mode(dir + "/r/.env"), 0o600)

            restart.signal(SIGTERM)
            signal.signal(SIGTERM)
            let restartStatus = await restart.wait(timeout: .seconds(15))
            let signalStatus = await signal.wait(timeout: .seconds(15))
            XCTAssertEqual(restartStatus, 42, "SIGTERM is forwarded and the loader exits with the command's status: \(restart.output)")
            XCTAssertEqual(signalStatus, 7, signal.output)
            for p in [restart, signal] { Self.assertNoSecrets(p.output, [m, token], "watch") }
            XCTAssertTrue(restart.output.contains("restarted the command"), restart.output)
            XCTAssertTrue(signal.output.contains("signalled the command to reload"), signal.output)
        }
    }

    func testWatchRenewsLeasesAndReplacesThoseThatCannotBeRenewed() async throws {
        try await withVaultPeers { bao, _, _ in
            try await withPostgres { pg in
                // renewable: 10 s leases renewable for 10 min; fixed: max_ttl equals ttl.
                try await Self.configureDatabase(bao, pg, roles: ["renewable": ("10s", "10m"), "fixed": ("9s", "9s")])
                // An 8 s token: the loader must renew it too, or its leases die with it.
                let token = try await Self.token(bao, policies: ["legate"], ttl: "8s")
                try await Self.kvPut(bao, "harness/app/env-secrets", ["MODE": "db"])
                let dir = Harness.tempDir("legate-loader-lease")
                // Every second the child logs in with its credentials and records the outcome.
                let script = """
                    while :; do
                      if PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=3 "$PSQL" -h 127.0.0.1 -p "$PGPORT" -U "$PG_USERNAME" -d postgres -w -Atc 'select 1' >/dev/null 2>&1
                      then r=ok; else r=fail; fi
                      echo "$$ $PG_USERNAME $r" >> "$LOG"
                      sleep 1
                    done
                    """
                func values(_ role: String) -> String {
                    Self.values(Self.seedToken, address: bao.url)
                        + "\n    databases:\n      pg:\n        useDatabaseSecretsEngine: \"true\"\n        databaseRole: \"\(role)\"\n"
                }
                var loaders: [String: ChildProcess] = [:]
                for role in ["renewable", "fixed"] {
                    loaders[role] = try Self.watch(
                        values(role), service: "app", output: dir + "/\(role)", args: ["--interval", "30"],
                        env: ["VAULT_TOKEN": token, "PSQL": PostgresPeer.psql, "PGPORT": "\(pg.port)", "LOG": dir + "/\(role).log"],
                        command: ["/bin/sh", "-c", script])
                }
                let clock = ContinuousClock()
                let start = clock.now
                try await Task.sleep(for: .seconds(32))
                func lines(_ role: String) -> [[String]] {
                    ((try? String(contentsOfFile: dir + "/\(role).log", encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
                        .filter { $0.count == 3 }
                }
                let renewable = lines("renewable")
                XCTAssertGreaterThanOrEqual(renewable.count, 25, "the child ran the whole time: \(loaders["renewable"]?.output ?? "")")
                XCTAssertEqual(renewable.filter { $0[2] != "ok" }.count, 0, "the 10 s credentials kept working past 30 s: \(renewable)")
                XCTAssertEqual(Set(renewable.map { $0[1] }).count, 1, "renewed, not replaced")
                XCTAssertEqual(Set(renewable.map { $0[0] }).count, 1, "the command was never restarted")
                XCTAssertGreaterThanOrEqual(clock.now - start, .seconds(30))

                let fixed = lines("fixed")
                let users = fixed.map { $0[1] }.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
                XCTAssertGreaterThanOrEqual(users.count, 3, "credentials that cannot be renewed were replaced: \(users)")
                XCTAssertGreaterThanOrEqual(Set(fixed.map { $0[0] }).count, 3, "and the command restarted with them")
                XCTAssertEqual(fixed.filter { $0[2] != "ok" }.count, 0, "always before the old ones expired: \(fixed)")
                // The replaced credentials are revoked once the restarted command no longer uses them.
                let roles = try await Command.run(
                    [PostgresPeer.psql, "-h", "127.0.0.1", "-p", "\(pg.port)", "-U", pg.adminUser, "-d", "postgres", "-w", "-Atc", "select rolname from pg_roles"],
                    env: ["PGPASSWORD": pg.adminPassword])
                let live = Set(roles.output.split(separator: "\n").map(String.init))
                XCTAssertFalse(live.contains(users[0]), "the first replaced user was revoked")
                XCTAssertTrue(live.contains(users[users.count - 1]), "the current one is live")

                let current = try await Self.variables(dir + "/fixed/.env", ["PG_USERNAME", "PG_PASSWORD"])
                let password = current["PG_PASSWORD"] ?? ""
                XCTAssertEqual(current["PG_USERNAME"], users[users.count - 1])
                let before = try await pg.login(user: current["PG_USERNAME"] ?? "", password: password)
                XCTAssertEqual(before, current["PG_USERNAME"], "the current credentials work while the loader runs")
                for (role, loader) in loaders {
                    loader.signal(SIGTERM)
                    let status = await loader.wait(timeout: .seconds(15))
                    if ProcessInfo.processInfo.environment["LEGATE_TEST_VERBOSE"] != nil { print("[\(role)] \(loader.output)\n\(lines(role))") }
                    XCTAssertEqual(status, 128 + SIGTERM, "\(role): the loader exits with the command's status (killed by SIGTERM)")
                    Self.assertNoSecrets(loader.output, [token, password], role)
                    XCTAssertTrue(loader.output.contains(role == "fixed" ? "created new database credentials" : "renewed database credentials"), loader.output)
                }
                // On exit the loader revokes the credentials it held.
                let after = try await pg.login(user: current["PG_USERNAME"] ?? "", password: password)
                XCTAssertNil(after, "the last credentials are revoked when the loader exits")
            }
        }
    }
}
