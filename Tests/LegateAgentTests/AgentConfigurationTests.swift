import Foundation
import LegateCore
import XCTest

@testable import LegateAgent

final class AgentConfigurationTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "legate-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func file(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func fromYAML(_ text: String) throws -> AgentConfiguration {
        var c = AgentConfiguration()
        try c.apply(yamlFile: try file("legate-\(UUID().uuidString).yaml", text))
        return c
    }

    private func configurationError(
        file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
    ) -> ConfigurationError? {
        do {
            try body()
            XCTFail("no error", file: file, line: line)
            return nil
        } catch let e as ConfigurationError {
            return e
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    /// A configuration that passes validation, to change one thing at a time.
    private func valid() -> AgentConfiguration {
        var c = AgentConfiguration()
        c.managerURL = "https://manager.example.com:8443"
        c.token = Redacted("lgt_tok_0123456789abcdef.secret")
        c.name = "build-01"
        return c
    }

    private func validationError(_ c: AgentConfiguration, file: StaticString = #filePath, line: UInt = #line) -> ConfigurationError? {
        configurationError(file: file, line: line) { _ = try c.validated() }
    }

    // MARK: Layers

    func testYAMLThenEnvironmentThenOverridesLaterWins() throws {
        var c = try fromYAML(
            """
            manager_url: https://from-file.example.com
            name: file-name
            tags: [linux, amd64]
            capacity: 4
            log_level: debug
            log_format: json
            drain_grace_seconds: 30
            state_dir: /srv/legate
            """)
        XCTAssertEqual(c.managerURL, "https://from-file.example.com")
        XCTAssertEqual(c.capacity, 4)
        XCTAssertEqual(c.drainGrace, .seconds(30))
        try c.apply(environment: [
            "LEGATE_MANAGER_URL": "https://from-env.example.com", "LEGATE_CAPACITY": "6", "LEGATE_LOG_LEVEL": "warning",
        ])
        XCTAssertEqual(c.managerURL, "https://from-env.example.com")
        XCTAssertEqual(c.capacity, 6)
        XCTAssertEqual(c.logLevel, "warning")
        // Explicit overrides (flags) come last.
        c.capacity = 9
        XCTAssertEqual(c.capacity, 9)
        XCTAssertEqual(c.managerURL, "https://from-env.example.com")
        // Untouched values keep the file's.
        XCTAssertEqual(c.name, "file-name")
        XCTAssertEqual(c.tags, ["linux", "amd64"])
        XCTAssertEqual(c.logFormat, "json")
        XCTAssertEqual(c.stateDirectory, "/srv/legate")
        XCTAssertEqual(c.drainGrace, .seconds(30))
    }

    func testDefaults() {
        let c = AgentConfiguration()
        XCTAssertEqual(c.managerURL, "")
        XCTAssertNil(c.token)
        XCTAssertNil(c.tokenFile)
        XCTAssertFalse(c.name.isEmpty)
        XCTAssertEqual(c.capacity, 8)
        XCTAssertEqual(c.drainGrace, .seconds(60))
        XCTAssertEqual(c.logLevel, "info")
        XCTAssertEqual(c.logFormat, "text")
    }

    func testEnvironmentTokenFileOverridesYAMLToken() throws {
        let tokenPath = try file("token", "from-file-token\n")
        var c = try fromYAML("manager_url: https://m.example.com\ntoken: inline-yaml-token\n")
        XCTAssertEqual(c.token?.unsafeValue, "inline-yaml-token")
        try c.apply(environment: ["LEGATE_TOKEN_FILE": tokenPath])
        XCTAssertNil(c.token)
        XCTAssertEqual(c.tokenFile, tokenPath)
        XCTAssertEqual(try c.validated().token.unsafeValue, "from-file-token")
    }

    func testEnvironmentTokenOverridesYAMLTokenFile() throws {
        var c = try fromYAML("manager_url: https://m.example.com\ntoken_file: /nonexistent/token\n")
        XCTAssertEqual(c.tokenFile, "/nonexistent/token")
        try c.apply(environment: ["LEGATE_TOKEN": "env-token"])
        XCTAssertNil(c.tokenFile)
        XCTAssertEqual(try c.validated().token.unsafeValue, "env-token")
    }

    func testEmptyLegateTokenIsIgnoredButOtherEmptyVariablesOverride() throws {
        var c = try fromYAML("manager_url: https://m.example.com\ntoken: yaml-token\nname: file-name\n")
        try c.apply(environment: ["LEGATE_TOKEN": "", "LEGATE_MANAGER_URL": ""])
        XCTAssertEqual(c.token?.unsafeValue, "yaml-token")
        XCTAssertEqual(c.managerURL, "", "a set but empty variable unsets the file's value")
        XCTAssertEqual(c.name, "file-name")
    }

    func testLaterTokenKeyInFileWins() throws {
        let c = try fromYAML("token: first\ntoken_file: /etc/legate/token\n")
        XCTAssertNil(c.token)
        XCTAssertEqual(c.tokenFile, "/etc/legate/token")
        let c2 = try fromYAML("token_file: /etc/legate/token\ntoken: second\n")
        XCTAssertNil(c2.tokenFile)
        XCTAssertEqual(c2.token?.unsafeValue, "second")
    }

    func testCredentialsDirectoryFallback() throws {
        var c = AgentConfiguration()
        try c.apply(environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/legate.service"])
        XCTAssertEqual(c.tokenFile, "/run/credentials/legate.service/token")

        var withToken = try fromYAML("token: yaml-token\n")
        try withToken.apply(environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/legate.service"])
        XCTAssertNil(withToken.tokenFile)
        XCTAssertEqual(withToken.token?.unsafeValue, "yaml-token")
    }

    func testEnvironmentVariables() throws {
        var c = AgentConfiguration()
        try c.apply(environment: [
            "LEGATE_NAME": "env-name", "LEGATE_TAGS": "a,b c,,", "LEGATE_CA_FILE": "/ca.pem",
            "LEGATE_CLIENT_CERT_FILE": "/c.pem", "LEGATE_CLIENT_KEY_FILE": "/k.pem", "HTTPS_PROXY": "http://upper:1",
            "https_proxy": "http://lower:2", "no_proxy": "lower.example", "LEGATE_DRAIN_GRACE_SECONDS": " 15 ",
            "LEGATE_LOG_FORMAT": "json", "LEGATE_STATE_DIR": "/state",
        ])
        XCTAssertEqual(c.name, "env-name")
        XCTAssertEqual(c.tags, ["a", "b", "c"])
        XCTAssertEqual(c.caFile, "/ca.pem")
        XCTAssertEqual(c.clientCertificateFile, "/c.pem")
        XCTAssertEqual(c.clientKeyFile, "/k.pem")
        XCTAssertEqual(c.httpsProxy, "http://upper:1", "HTTPS_PROXY wins over https_proxy")
        XCTAssertEqual(c.noProxy, "lower.example", "no_proxy used when NO_PROXY is unset")
        XCTAssertEqual(c.drainGrace, .seconds(15))
        XCTAssertEqual(c.logFormat, "json")
        XCTAssertEqual(c.stateDirectory, "/state")
    }

    func testBadNumberInEnvironmentNamesTheVariable() {
        var c = AgentConfiguration()
        let e = configurationError { try c.apply(environment: ["LEGATE_CAPACITY": "eight"]) }
        XCTAssertTrue(e?.message.contains("LEGATE_CAPACITY") ?? false, e?.message ?? "")
        XCTAssertTrue(e?.message.contains("'eight'") ?? false, e?.message ?? "")
    }

    // MARK: YAML rules

    func testUnknownKeyIsAnErrorNamingTheKeyAndListingValidKeys() {
        let e = configurationError { _ = try self.fromYAML("manager_url: https://m.example.com\nmanagr_url: typo\n") }
        XCTAssertEqual(e?.code, "unknown_config_key")
        let message = e?.message ?? ""
        XCTAssertTrue(message.contains("'managr_url'"), message)
        XCTAssertTrue(message.contains("Valid keys"), message)
        for key in AgentConfiguration.fileKeys {
            XCTAssertTrue(message.contains(key), "\(key) missing from: \(message)")
        }
    }

    func testNonMappingYAMLIsAnError() {
        for text in ["- a\n- b\n", "just a string\n", "42\n"] {
            let e = configurationError { _ = try self.fromYAML(text) }
            XCTAssertEqual(e?.code, "invalid_config_file", text)
            XCTAssertTrue(e?.message.contains("mapping") ?? false, e?.message ?? "")
        }
    }

    func testInvalidYAMLIsAnError() {
        let e = configurationError { _ = try self.fromYAML("manager_url: [unclosed\n") }
        XCTAssertEqual(e?.code, "invalid_config_file")
    }

    func testEmptyFileIsAllowed() throws {
        let c = try fromYAML("")
        XCTAssertEqual(c.managerURL, "")
        XCTAssertEqual(c.capacity, 8)
        let commentsOnly = try fromYAML("# nothing here\n")
        XCTAssertEqual(commentsOnly.capacity, 8)
    }

    func testNonScalarValueIsAnErrorNamingTheKey() {
        let e = configurationError { _ = try self.fromYAML("manager_url: [a, b]\n") }
        XCTAssertEqual(e?.code, "invalid_config_file")
        XCTAssertTrue(e?.message.contains("'manager_url'") ?? false, e?.message ?? "")
        let e2 = configurationError { _ = try self.fromYAML("name:\n  first: x\n") }
        XCTAssertEqual(e2?.code, "invalid_config_file")
    }

    func testNonNumberCapacityIsAnError() {
        let e = configurationError { _ = try self.fromYAML("capacity: lots\n") }
        XCTAssertEqual(e?.code, "invalid_configuration")
        XCTAssertTrue(e?.message.contains("capacity") ?? false, e?.message ?? "")
        XCTAssertTrue(e?.message.contains("'lots'") ?? false, e?.message ?? "")
        XCTAssertNotNil(configurationError { _ = try self.fromYAML("drain_grace_seconds: 1.5\n") })
    }

    func testTagsAsListOrString() throws {
        XCTAssertEqual(try fromYAML("tags: [linux, amd64, pool-a]\n").tags, ["linux", "amd64", "pool-a"])
        XCTAssertEqual(try fromYAML("tags:\n  - linux\n  - amd64\n").tags, ["linux", "amd64"])
        XCTAssertEqual(try fromYAML("tags: \"linux,amd64,pool-a\"\n").tags, ["linux", "amd64", "pool-a"])
        XCTAssertEqual(try fromYAML("tags: linux, amd64 pool-a\n").tags, ["linux", "amd64", "pool-a"])
        XCTAssertEqual(try fromYAML("tags: solo\n").tags, ["solo"])
    }

    func testMissingConfigFileNamesThePath() {
        var c = AgentConfiguration()
        let path = dir + "/missing.yaml"
        XCTAssertThrowsError(try c.apply(yamlFile: path)) { error in
            XCTAssertEqual((error as? FileIO.Failure)?.code, "file_error")
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }

    func testDocumentedExampleFileIsAccepted() throws {
        let c = try fromYAML(
            """
            manager_url: https://legate-manager.internal.example.com:8443
            token_file: /etc/legate/token
            name: build-01                 # default: host name
            tags: [linux, amd64, pool-a]   # or "linux,amd64,pool-a"
            capacity: 8                    # concurrent tasks, 1-1000
            ca_file: /etc/legate/manager-ca.pem
            client_cert_file: /etc/legate/client.pem
            client_key_file: /etc/legate/client-key.pem
            https_proxy: http://proxy.internal.example.com:3128
            no_proxy: localhost,.cluster.local
            drain_grace_seconds: 60
            log_level: info
            log_format: json
            state_dir: /var/lib/legate     # reserved; not used by this version
            """)
        XCTAssertEqual(c.name, "build-01")
        XCTAssertEqual(c.tokenFile, "/etc/legate/token")
        XCTAssertEqual(c.httpsProxy, "http://proxy.internal.example.com:3128")
        XCTAssertEqual(c.noProxy, "localhost,.cluster.local")
        XCTAssertEqual(c.clientKeyFile, "/etc/legate/client-key.pem")
    }

    // MARK: Validation

    func testValidConfiguration() throws {
        var c = valid()
        c.name = "  build-01  "
        c.tags = ["linux", "pool-a"]
        let v = try c.validated()
        XCTAssertEqual(v.manager, try ManagerEndpoint("https://manager.example.com:8443"))
        XCTAssertEqual(v.manager.host, "manager.example.com")
        XCTAssertEqual(v.manager.port, 8443)
        XCTAssertTrue(v.manager.secure)
        XCTAssertEqual(v.token.unsafeValue, "lgt_tok_0123456789abcdef.secret")
        XCTAssertEqual(v.raw.name, "build-01")
        XCTAssertNil(v.proxy)
    }

    func testMissingManagerURL() {
        var c = valid()
        c.managerURL = ""
        XCTAssertEqual(validationError(c)?.code, "missing_manager_url")
    }

    func testMissingToken() {
        var c = valid()
        c.token = nil
        let e = validationError(c)
        XCTAssertEqual(e?.code, "missing_token")
        XCTAssertTrue(e?.message.contains("token_file") ?? false, e?.message ?? "")

        c.token = Redacted("")
        XCTAssertEqual(validationError(c)?.code, "missing_token")
    }

    func testTokenFromFileIsTrimmed() throws {
        var c = valid()
        c.token = nil
        c.tokenFile = try file("token", "  \t lgt_tok_abc.def \n\n")
        XCTAssertEqual(try c.validated().token.unsafeValue, "lgt_tok_abc.def")
    }

    func testWhitespaceOnlyTokenFileIsMissingToken() throws {
        var c = valid()
        c.token = nil
        c.tokenFile = try file("token", " \n\n ")
        XCTAssertEqual(validationError(c)?.code, "missing_token")
    }

    func testUnreadableTokenFileNamesPath() {
        var c = valid()
        c.token = nil
        c.tokenFile = dir + "/no-token-here"
        XCTAssertThrowsError(try c.validated()) { error in
            XCTAssertEqual((error as? FileIO.Failure)?.code, "file_error")
            XCTAssertTrue("\(error)".contains(self.dir + "/no-token-here"), "\(error)")
        }
    }

    func testCapacityRange() throws {
        var c = valid()
        for bad in [0, -1, 1001, 100_000] {
            c.capacity = bad
            let e = validationError(c)
            XCTAssertEqual(e?.code, "invalid_configuration", "\(bad)")
            XCTAssertTrue(e?.message.contains("\(bad)") ?? false, e?.message ?? "")
        }
        for good in [1, 1000] {
            c.capacity = good
            XCTAssertNoThrow(try c.validated(), "\(good)")
        }
    }

    func testNameRules() {
        var c = valid()
        c.name = "   "
        XCTAssertEqual(validationError(c)?.code, "invalid_configuration")
        c.name = String(repeating: "n", count: 129)
        XCTAssertEqual(validationError(c)?.code, "invalid_configuration")
        c.name = String(repeating: "n", count: 128)
        XCTAssertNoThrow(try c.validated())
    }

    func testInvalidTag() {
        var c = valid()
        c.tags = ["ok", "not ok"]
        let e = validationError(c)
        XCTAssertEqual(e?.code, "invalid_tag")
        XCTAssertTrue(e?.message.contains("'not ok'") ?? false, e?.message ?? "")
    }

    func testNegativeDrainGrace() {
        var c = valid()
        c.drainGrace = .seconds(-1)
        XCTAssertEqual(validationError(c)?.code, "invalid_configuration")
        c.drainGrace = .zero
        XCTAssertNoThrow(try c.validated())
    }

    func testPlainHTTPOnlyToLoopback() throws {
        var c = valid()
        for bad in ["http://manager.example.com", "http://10.0.0.5:8080", "http://127.evil.example", "http://127.0.0.1.evil.example", "http://localhost.evil.example", "http://0.0.0.0"] {
            c.managerURL = bad
            let e = validationError(c)
            XCTAssertEqual(e?.code, "insecure_manager_url", bad)
        }
        for good in ["http://localhost", "http://localhost:8080", "http://127.0.0.1", "http://127.0.0.1:8443", "http://127.1.2.3", "http://[::1]:8080"] {
            c.managerURL = good
            XCTAssertNoThrow(try c.validated(), good)
        }
    }

    func testLoopbackDetection() {
        XCTAssertTrue(ManagerEndpoint.isLoopback("localhost"))
        XCTAssertTrue(ManagerEndpoint.isLoopback("127.0.0.1"))
        XCTAssertTrue(ManagerEndpoint.isLoopback("127.255.255.254"))
        XCTAssertTrue(ManagerEndpoint.isLoopback("::1"))
        XCTAssertTrue(ManagerEndpoint.isLoopback("[::1]"))
        XCTAssertFalse(ManagerEndpoint.isLoopback("127.evil.example"))
        XCTAssertFalse(ManagerEndpoint.isLoopback("127.0.0.1.evil.example"))
        XCTAssertFalse(ManagerEndpoint.isLoopback("127.0.0.256"))
        XCTAssertFalse(ManagerEndpoint.isLoopback("127.0.0"))
        XCTAssertFalse(ManagerEndpoint.isLoopback("128.0.0.1"))
        XCTAssertFalse(ManagerEndpoint.isLoopback("localhost.evil.example"))
        XCTAssertFalse(ManagerEndpoint.isLoopback("evil-localhost"))
    }

    func testHTTPSToIPLiteralIsRejected() {
        var c = valid()
        c.managerURL = "https://127.0.0.1:8443"
        let e = validationError(c)
        XCTAssertEqual(e?.code, "invalid_manager_url")
        XCTAssertTrue(e?.message.contains("localhost") ?? false, e?.message ?? "")
        XCTAssertTrue(e?.message.contains("127.0.0.1") ?? false, e?.message ?? "")
        for bad in ["https://10.0.0.5", "https://[::1]:8443", "https://192.168.1.20:8443"] {
            c.managerURL = bad
            XCTAssertEqual(validationError(c)?.code, "invalid_manager_url", bad)
        }
        // Names that merely look numeric-ish are fine.
        c.managerURL = "https://10.0.0.5.nip.example"
        XCTAssertNoThrow(try c.validated())
    }

    func testURLWithCredentialsIsRejectedWithoutEchoingThem() {
        var c = valid()
        for url in ["https://admin:pw-s3cret@manager.example.com", "https://pw-s3cret@manager.example.com", "http://u:pw-s3cret@localhost:8080"] {
            c.managerURL = url
            let e = validationError(c)
            XCTAssertEqual(e?.code, "invalid_manager_url", url)
            XCTAssertFalse(e?.message.contains("pw-s3cret") ?? true, e?.message ?? "")
        }
    }

    func testOtherInvalidURLs() {
        var c = valid()
        for bad in ["ftp://manager.example.com", "wss://manager.example.com", "manager.example.com", "https://", "not a url at all"] {
            c.managerURL = bad
            XCTAssertEqual(validationError(c)?.code, "invalid_manager_url", bad)
        }
    }

    func testClientCertificateAndKeyGoTogether() throws {
        var c = valid()
        c.clientCertificateFile = try file("client.pem", "cert")
        let e = validationError(c)
        XCTAssertEqual(e?.code, "tls_configuration")
        XCTAssertTrue(e?.message.contains("client_key_file") ?? false, e?.message ?? "")
        c.clientCertificateFile = nil
        c.clientKeyFile = try file("client-key.pem", "key")
        XCTAssertEqual(validationError(c)?.code, "tls_configuration")
        c.clientCertificateFile = try file("client.pem", "cert")
        XCTAssertNoThrow(try c.validated())
    }

    func testUnreadableTLSFiles() throws {
        var c = valid()
        let missing = dir + "/no-ca.pem"
        c.caFile = missing
        let e = validationError(c)
        XCTAssertEqual(e?.code, "tls_configuration")
        XCTAssertTrue(e?.message.contains("ca_file") ?? false, e?.message ?? "")
        XCTAssertTrue(e?.message.contains(missing) ?? false, e?.message ?? "")

        c.caFile = try file("ca.pem", "pem")
        XCTAssertNoThrow(try c.validated())

        c.clientCertificateFile = dir + "/no-cert.pem"
        c.clientKeyFile = try file("key.pem", "key")
        let e2 = validationError(c)
        XCTAssertEqual(e2?.code, "tls_configuration")
        XCTAssertTrue(e2?.message.contains("client_cert_file") ?? false, e2?.message ?? "")
    }

    func testValidatedResolvesProxy() throws {
        var c = valid()
        try c.apply(environment: ["HTTPS_PROXY": "http://proxy.corp.example:8080"])
        let v = try c.validated()
        XCTAssertEqual(v.proxy?.host, "proxy.corp.example")
        XCTAssertEqual(v.proxy?.port, 8080)

        try c.apply(environment: ["NO_PROXY": ".example.com"])
        XCTAssertNil(try c.validated().proxy)

        var bad = valid()
        bad.httpsProxy = "socks5://proxy:1080"
        XCTAssertEqual(validationError(bad)?.code, "invalid_proxy")
    }

    // MARK: ManagerEndpoint

    func testEndpointURLsAndDefaultPorts() throws {
        let https = try ManagerEndpoint("https://manager.example.com")
        XCTAssertEqual(https.port, 443)
        XCTAssertEqual(https.baseURL, "https://manager.example.com:443")
        XCTAssertEqual(https.streamBaseURL, "wss://manager.example.com:443")

        let http = try ManagerEndpoint("http://localhost")
        XCTAssertFalse(http.secure)
        XCTAssertEqual(http.port, 80)
        XCTAssertEqual(http.baseURL, "http://localhost:80")
        XCTAssertEqual(http.streamBaseURL, "ws://localhost:80")

        let withPath = try ManagerEndpoint("https://manager.example.com:8443/ignored/path?q=1")
        XCTAssertEqual(withPath.port, 8443)
        XCTAssertEqual(withPath.baseURL, "https://manager.example.com:8443")
        XCTAssertEqual(withPath.streamBaseURL, "wss://manager.example.com:8443")

        let upper = try ManagerEndpoint("HTTPS://manager.example.com:9000")
        XCTAssertTrue(upper.secure)
        XCTAssertEqual(upper.baseURL, "https://manager.example.com:9000")
    }

    func testEndpointIPv6LoopbackIsBracketed() throws {
        let e = try ManagerEndpoint("http://[::1]:8080")
        XCTAssertEqual(e.port, 8080)
        XCTAssertEqual(e.baseURL, "http://[::1]:8080")
        XCTAssertEqual(e.streamBaseURL, "ws://[::1]:8080")
    }

    // MARK: ProxySettings

    func testProxyWithCredentials() throws {
        let p = try XCTUnwrap(try ProxySettings.resolve(httpsProxy: "http://alice:pr0xy-pw@proxy.example:8080", noProxy: nil, for: "m.example.com"))
        XCTAssertEqual(p.host, "proxy.example")
        XCTAssertEqual(p.port, 8080)
        XCTAssertEqual(p.username, "alice")
        XCTAssertEqual(p.password?.unsafeValue, "pr0xy-pw")
    }

    func testProxyCredentialsArePercentDecoded() throws {
        let p = try XCTUnwrap(try ProxySettings.resolve(httpsProxy: "http://al%40ice:p%3Aw%2Fd@proxy.example:3129", noProxy: "", for: "m.example.com"))
        XCTAssertEqual(p.username, "al@ice")
        XCTAssertEqual(p.password?.unsafeValue, "p:w/d")
        XCTAssertEqual(p.port, 3129)
    }

    func testProxyDefaultPortAndOptionalScheme() throws {
        let p = try XCTUnwrap(try ProxySettings.resolve(httpsProxy: "http://proxy.example", noProxy: nil, for: "m.example.com"))
        XCTAssertEqual(p.port, 3128)
        XCTAssertNil(p.username)
        XCTAssertNil(p.password)
        let bare = try XCTUnwrap(try ProxySettings.resolve(httpsProxy: "proxy.example:8888", noProxy: nil, for: "m.example.com"))
        XCTAssertEqual(bare.host, "proxy.example")
        XCTAssertEqual(bare.port, 8888)
        let bareNoPort = try XCTUnwrap(try ProxySettings.resolve(httpsProxy: "proxy.example", noProxy: nil, for: "m.example.com"))
        XCTAssertEqual(bareNoPort.port, 3128)
    }

    func testNoProxyConfiguredMeansNoProxy() throws {
        XCTAssertNil(try ProxySettings.resolve(httpsProxy: nil, noProxy: nil, for: "m.example.com"))
        XCTAssertNil(try ProxySettings.resolve(httpsProxy: "", noProxy: nil, for: "m.example.com"))
    }

    func testNonHTTPProxySchemeIsRejected() {
        for bad in ["https://proxy.example:443", "socks5://proxy.example:1080", "socks5h://proxy.example"] {
            let e = configurationError { _ = try ProxySettings.resolve(httpsProxy: bad, noProxy: nil, for: "m.example.com") }
            XCTAssertEqual(e?.code, "invalid_proxy", bad)
        }
    }

    func testNoProxyMatching() throws {
        let proxy = "http://proxy.example:3128"
        func bypassed(_ host: String, _ noProxy: String) throws -> Bool {
            try ProxySettings.resolve(httpsProxy: proxy, noProxy: noProxy, for: host) == nil
        }
        // Exact host.
        XCTAssertTrue(try bypassed("manager.example.com", "manager.example.com"))
        XCTAssertTrue(try bypassed("Manager.Example.COM", "manager.example.com"))
        XCTAssertTrue(try bypassed("manager.example.com", "MANAGER.example.com"))
        // Domain suffix, with or without the leading dot.
        XCTAssertTrue(try bypassed("m.example.com", "example.com"))
        XCTAssertTrue(try bypassed("m.example.com", ".example.com"))
        XCTAssertTrue(try bypassed("a.b.example.com", ".example.com"))
        XCTAssertTrue(try bypassed("example.com", ".example.com"))
        // Not a label-boundary suffix.
        XCTAssertFalse(try bypassed("m.badexample.com", "example.com"))
        XCTAssertFalse(try bypassed("m.badexample.com", ".example.com"))
        XCTAssertFalse(try bypassed("example.com.evil", "example.com"))
        // Wildcard.
        XCTAssertTrue(try bypassed("anything.example", "*"))
        XCTAssertTrue(try bypassed("anything.example", "other.example, *"))
        // Port-qualified entries: the port is ignored.
        XCTAssertTrue(try bypassed("manager.example.com", "manager.example.com:8443"))
        XCTAssertTrue(try bypassed("m.example.com", ".example.com:443"))
        // Lists with spaces and empty entries.
        XCTAssertTrue(try bypassed("m.cluster.local", "localhost, ,.cluster.local"))
        XCTAssertFalse(try bypassed("manager.example.com", "localhost,.cluster.local"))
        XCTAssertFalse(try bypassed("manager.example.com", ""))
    }

    func testNoProxyBypassHelper() {
        XCTAssertTrue(ProxySettings.bypass(host: "localhost", noProxy: "localhost,127.0.0.1"))
        XCTAssertTrue(ProxySettings.bypass(host: "127.0.0.1", noProxy: "localhost,127.0.0.1"))
        XCTAssertFalse(ProxySettings.bypass(host: "127.0.0.2", noProxy: "localhost,127.0.0.1"))
        XCTAssertTrue(ProxySettings.bypass(host: "::1", noProxy: "::1"))
    }

    func testNoProxyBypassesEvenAnInvalidProxy() throws {
        XCTAssertNil(try ProxySettings.resolve(httpsProxy: "socks5://proxy:1080", noProxy: "*", for: "m.example.com"))
    }

    func testProxyPasswordIsRedacted() throws {
        let p = try XCTUnwrap(try ProxySettings.resolve(httpsProxy: "http://bob:Sup3r-Secret-PW@proxy.example:8080", noProxy: nil, for: "m.example.com"))
        XCTAssertEqual(p.password?.unsafeValue, "Sup3r-Secret-PW")
        XCTAssertEqual(p.password?.description, "<redacted>")
        for printed in [String(describing: p), String(reflecting: p), "\(p)", "\(p.password as Any)"] {
            XCTAssertFalse(printed.contains("Sup3r-Secret-PW"), printed)
        }
        var dumped = ""
        dump(p, to: &dumped)
        XCTAssertTrue(dumped.contains("proxy.example"), dumped)
        XCTAssertFalse(dumped.contains("Sup3r-Secret-PW"), dumped)
    }

    func testValidatedConfigurationDoesNotPrintTheToken() throws {
        var c = valid()
        c.token = Redacted("lgt_tok_0123456789abcdef.VERY-SECRET")
        let v = try c.validated()
        var dumped = ""
        dump(v, to: &dumped)
        XCTAssertFalse(dumped.contains("VERY-SECRET"))
        XCTAssertFalse(String(describing: v).contains("VERY-SECRET"))
    }
}
