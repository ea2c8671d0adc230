import Foundation
import KeyProviders
import LegateCore
import LegateCrypto
import Logging
import Synchronization
import XCTest

@testable import ProviderAWS

/// A scripted HTTP peer for unit tests: answers by method + path and records every request.
final class ScriptedTransport: HTTPTransport {
    typealias Handler = @Sendable (ProviderHTTPRequest) throws -> ProviderHTTPResponse
    private let state = Mutex<(requests: [ProviderHTTPRequest], handler: Handler)>(([], { _ in ProviderHTTPResponse(status: 404) }))

    init(_ handler: @escaping Handler) { state.withLock { $0.handler = handler } }

    var requests: [ProviderHTTPRequest] { state.withLock { $0.requests } }

    func send(_ request: ProviderHTTPRequest, timeout: Duration) async throws -> ProviderHTTPResponse {
        let handler = state.withLock { s -> Handler in
            s.requests.append(request)
            return s.handler
        }
        return try handler(request)
    }

    static func path(_ r: ProviderHTTPRequest) -> String { URLComponents(string: r.url)?.path ?? "" }
    static func json(_ o: [String: Any], status: Int = 200) -> ProviderHTTPResponse {
        ProviderHTTPResponse(status: status, body: Array((try? JSONSerialization.data(withJSONObject: o)) ?? Data()))
    }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let t = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    var now: Date { t.withLock { $0 } }
    func advance(_ s: TimeInterval) { t.withLock { $0 = $0.addingTimeInterval(s) } }
}

/// Counts fetches and hands out credentials that expire `lifetime` after the (test) clock's now.
actor CountingProvider: AWSCredentialProvider {
    nonisolated let route = "test source"
    let clock: TestClock
    let lifetime: TimeInterval
    var calls = 0
    var failNext = false
    var delay: Duration = .zero

    init(clock: TestClock, lifetime: TimeInterval) {
        self.clock = clock
        self.lifetime = lifetime
    }

    func setFailNext(_ v: Bool) { failNext = v }
    func setDelay(_ d: Duration) { delay = d }

    func credentials() async throws -> AWSCredentials {
        calls += 1
        if delay > .zero { try await Task.sleep(for: delay) }
        if failNext {
            failNext = false
            throw ProviderError.transient("down", "source down")
        }
        return AWSCredentials(accessKeyId: "AKID\(calls)", secretAccessKey: "secret\(calls)", sessionToken: "tok", expiration: clock.now.addingTimeInterval(lifetime))
    }
}

final class CredentialProviderTests: XCTestCase {
    func testCacheFetchesOnceAndRefreshesShortlyBeforeExpiry() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CachingCredentialProvider(base, refreshMargin: 300, now: { clock.now })
        let first = try await cache.credentials()
        for _ in 0..<10 { _ = try await cache.credentials() }
        var calls = await base.calls
        XCTAssertEqual(calls, 1)
        clock.advance(3600 - 301)
        let v1 = try await cache.credentials().accessKeyId
        XCTAssertEqual(v1, first.accessKeyId, "still outside the refresh margin")
        clock.advance(2)
        let v2 = try await cache.credentials().accessKeyId
        XCTAssertEqual(v2, "AKID2", "inside the margin: refreshed")
        calls = await base.calls
        XCTAssertEqual(calls, 2)
    }

    func testConcurrentCallersShareOneRefresh() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 3600)
        await base.setDelay(.milliseconds(50))
        let cache = CachingCredentialProvider(base, now: { clock.now })
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await cache.credentials().accessKeyId } }
            for try await id in group { XCTAssertEqual(id, "AKID1") }
        }
        let calls = await base.calls
        XCTAssertEqual(calls, 1)
    }

    func testNeverServesExpiredCredentials() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 1000)
        let cache = CachingCredentialProvider(base, refreshMargin: 300, now: { clock.now })
        _ = try await cache.credentials()
        // Inside the margin, refresh fails: the still-valid credentials are served.
        clock.advance(800)
        await base.setFailNext(true)
        let v3 = try await cache.credentials().accessKeyId
        XCTAssertEqual(v3, "AKID1")
        // Past expiry, refresh fails: an error, never the expired set.
        clock.advance(300)
        await base.setFailNext(true)
        do {
            _ = try await cache.credentials()
            XCTFail("expired credentials were served")
        } catch let e as ProviderError {
            XCTAssertEqual(e.code, "down")
        }
        let v4 = try await cache.credentials().accessKeyId
        XCTAssertEqual(v4, "AKID4")
    }

    func testShortLivedCredentialsRefreshWithinAQuarterOfTheirLifetime() async throws {
        let clock = TestClock()
        let base = CountingProvider(clock: clock, lifetime: 60)
        let cache = CachingCredentialProvider(base, refreshMargin: 300, now: { clock.now })
        _ = try await cache.credentials()
        clock.advance(40)
        _ = try await cache.credentials()
        var calls = await base.calls
        XCTAssertEqual(calls, 1, "a 300 s margin on 60 s credentials would refresh on every call")
        clock.advance(6)
        _ = try await cache.credentials()
        calls = await base.calls
        XCTAssertEqual(calls, 2)
    }

    func testEnvironmentProvider() async throws {
        let p = EnvironmentCredentialProvider(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s3cr3t-env", "AWS_SESSION_TOKEN": "tok"])
        let c = try await p.credentials()
        XCTAssertEqual(c.accessKeyId, "AKIDENV")
        XCTAssertEqual(c.sessionToken?.unsafeValue, "tok")
        XCTAssertFalse("\(c)".contains("s3cr3t-env"))
        do {
            _ = try await EnvironmentCredentialProvider(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV"]).credentials()
            XCTFail("incomplete environment accepted")
        } catch let e as ProviderError {
            XCTAssertEqual(e.origin, .configuration)
            XCTAssertTrue(e.message.contains("AWS_SECRET_ACCESS_KEY"))
        }
    }

    func testIMDSv2FetchesATokenFirstAndRetriesOnceOn401() async throws {
        let tokenRequests = Mutex(0)
        let transport = ScriptedTransport { r in
            switch (r.method, ScriptedTransport.path(r)) {
            case ("PUT", "/latest/api/token"):
                XCTAssertEqual(r.headers.first { $0.0 == "X-aws-ec2-metadata-token-ttl-seconds" }?.1, "21600")
                let n = tokenRequests.withLock { $0 += 1; return $0 }
                return ProviderHTTPResponse(status: 200, headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")], body: Array("token-\(n)".utf8))
            case ("GET", let path):
                let token = r.headers.first { $0.0 == "X-aws-ec2-metadata-token" }?.1
                // The first token is "expired": IMDS answers 401 as it does for a stale token.
                guard token == "token-2" else { return ProviderHTTPResponse(status: 401) }
                if path == "/latest/meta-data/iam/security-credentials/" { return ProviderHTTPResponse(status: 200, body: Array("web-role\n".utf8)) }
                if path == "/latest/meta-data/iam/security-credentials/web-role" {
                    return ScriptedTransport.json([
                        "Code": "Success", "AccessKeyId": "ASIAIMDS", "SecretAccessKey": "imds-secret", "Token": "imds-token",
                        "Expiration": "2030-01-01T00:00:00Z",
                    ])
                }
                return ProviderHTTPResponse(status: 404)
            default:
                return ProviderHTTPResponse(status: 405)
            }
        }
        let p = InstanceMetadataCredentialProvider(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1/"], transport: transport)
        let c = try await p.credentials()
        XCTAssertEqual(c.accessKeyId, "ASIAIMDS")
        XCTAssertEqual(c.sessionToken?.unsafeValue, "imds-token")
        XCTAssertEqual(c.expiration, try Date("2030-01-01T00:00:00Z", strategy: .iso8601))
        XCTAssertEqual(tokenRequests.withLock { $0 }, 2)
        XCTAssertTrue(transport.requests.allSatisfy { $0.url.hasPrefix("http://127.0.0.1:1/latest/") })
    }

    func testIMDSAbsentIsSkippedByTheChainWithReasons() async throws {
        let transport = ScriptedTransport { _ in throw ProviderError.transient("provider_unreachable", "connection refused") }
        let chain = AWSConnectorSettings.delegateChain(env: [:], transport: transport, region: "us-east-1", sts: "http://127.0.0.1:1")
        do {
            _ = try await chain.credentials()
            XCTFail("no source should have answered")
        } catch let e as ProviderError {
            XCTAssertEqual(e.code, "aws_no_credentials")
            for part in ["AWS_ACCESS_KEY_ID is not set", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS", "IMDSv2", "connection refused"] {
                XCTAssertTrue(e.message.contains(part), "missing '\(part)' in: \(e.message)")
            }
        }
    }

    func testChainPrefersEnvironmentAndSticksToTheSourceThatWorked() async throws {
        let transport = ScriptedTransport { _ in XCTFail("no HTTP expected"); return ProviderHTTPResponse(status: 500) }
        let chain = AWSConnectorSettings.delegateChain(
            env: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "x", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds"],
            transport: transport, region: "us-east-1", sts: "http://127.0.0.1:1")
        let v5 = try await chain.credentials().accessKeyId
        XCTAssertEqual(v5, "AKIDENV")
        let route = await chain.selectedRoute
        XCTAssertEqual(route, "the delegate's environment (AWS_ACCESS_KEY_ID)")
    }

    func testContainerCredentialsSendTheTokenFromItsFileAndRefuseRemoteHTTP() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("legate-aws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("token").path
        try "pod-token-1\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let transport = ScriptedTransport { r in
            XCTAssertEqual(r.headers.first { $0.0 == "Authorization" }?.1, "pod-token-1")
            return ScriptedTransport.json(["AccessKeyId": "ASIACONT", "SecretAccessKey": "c", "Token": "t", "Expiration": "2030-01-01T00:00:00.123Z"])
        }
        let env = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/v1/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile]
        let c = try await ContainerCredentialProvider(environment: env, transport: transport).credentials()
        XCTAssertEqual(c.accessKeyId, "ASIACONT")
        XCTAssertNotNil(c.expiration)
        do {
            _ = try await ContainerCredentialProvider(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/creds"], transport: transport)
                .credentials()
            XCTFail("plain http to a remote host accepted")
        } catch let e as ProviderError {
            XCTAssertEqual(e.code, "aws_container_uri")
        }
    }

    func testAssumeRoleSettingsAreValidated() throws {
        XCTAssertNoThrow(try AssumeRoleSettings(roleArn: "arn:aws:iam::123456789012:role/x", durationSeconds: 900))
        XCTAssertNoThrow(try AssumeRoleSettings(roleArn: "arn:aws:iam::123456789012:role/x", durationSeconds: 43_200))
        for bad in [899, 43_201, 0] {
            XCTAssertThrowsError(try AssumeRoleSettings(roleArn: "arn:aws:iam::123456789012:role/x", durationSeconds: bad)) { e in
                XCTAssertTrue((e as? ProviderError)?.message.contains("900–43200") ?? false)
            }
        }
        XCTAssertThrowsError(try AssumeRoleSettings(roleArn: "my-role")) { e in
            XCTAssertEqual((e as? ProviderError)?.code, "invalid_role_arn")
        }
        XCTAssertThrowsError(try AssumeRoleSettings(roleArn: "arn:aws:iam::123456789012:role/x", sessionName: "has space"))
    }

    func testSTSAssumeRoleRequestAndResponse() async throws {
        let transport = ScriptedTransport { r in
            let body = String(decoding: r.body, as: UTF8.self)
            XCTAssertTrue(body.contains("Action=AssumeRole&"), body)
            XCTAssertTrue(body.contains("ExternalId=ext-1"), body)
            XCTAssertTrue(body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"), body)
            XCTAssertNotNil(r.headers.first { $0.0 == "Authorization" })
            return ProviderHTTPResponse(
                status: 200,
                body: Array(
                    """
                    <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>
                    <AccessKeyId>ASIASTS</AccessKeyId><SecretAccessKey>s&amp;t</SecretAccessKey><SessionToken>tok</SessionToken>
                    <Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>
                    """.utf8))
        }
        let p = AssumeRoleCredentialProvider(
            settings: try AssumeRoleSettings(roleArn: "arn:aws:iam::123456789012:role/r", externalId: "ext-1"),
            base: StaticCredentialProvider(AWSCredentials(accessKeyId: "AKID", secretAccessKey: "base-secret")), region: "us-east-1",
            stsEndpoint: "http://127.0.0.1:1", transport: transport)
        let c = try await p.credentials()
        XCTAssertEqual(c.accessKeyId, "ASIASTS")
        XCTAssertEqual(c.secretAccessKey.unsafeValue, "s&t")
    }

    func testErrorsAreClassifiedAndNameWhatToCheck() {
        func map(_ status: Int, _ body: String) -> ProviderError {
            AWSServiceError.parse(status: status, body: Array(body.utf8), headers: [])
                .providerError(action: "kms:Decrypt", subject: "KMS key k1 in eu-west-1", route: "the connector's access keys")
        }
        XCTAssertTrue(map(400, #"{"__type":"ThrottlingException","message":"slow down"}"#).isTransient)
        XCTAssertTrue(map(500, #"{"__type":"KMSInternalException"}"#).isTransient)
        XCTAssertTrue(map(503, "<html>").isTransient)
        let denied = map(400, #"{"__type":"AccessDeniedException","message":"not allowed"}"#)
        XCTAssertFalse(denied.isTransient)
        XCTAssertTrue(denied.message.contains("KMS key k1 in eu-west-1") && denied.message.contains("access keys") && denied.message.contains("policy"))
        XCTAssertEqual(map(400, #"{"__type":"com.amazonaws.kms#InvalidCiphertextException"}"#).code, "aws_invalid_ciphertext")
        XCTAssertEqual(map(400, #"{"__type":"NotFoundException"}"#).code, "aws_not_found")
        XCTAssertEqual(map(400, #"{"__type":"DisabledException"}"#).code, "aws_key_disabled")
        // moto answers authentication failures in XML, even for JSON services.
        let sig = map(403, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error></ErrorResponse>")
        XCTAssertEqual(sig.code, "aws_bad_signature")
        XCTAssertEqual(map(403, "<Response><Errors><Error><Code>InvalidClientTokenId</Code></Error></Errors></Response>").code, "aws_unknown_access_key")
        XCTAssertEqual(map(400, "<ErrorResponse><Error><Code>ExpiredToken</Code></Error></ErrorResponse>").code, "aws_expired_token")
        XCTAssertEqual(map(400, "<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error></ErrorResponse>").code, "aws_invalid_identity_token")
    }

    func testXMLFields() {
        let x = XMLFields(Array("<a><CodeX>no</CodeX><Code attr=\"1\">A&lt;B&#65;&#x42;</Code><Empty/></a>".utf8))
        XCTAssertEqual(x.first("Code"), "A<BAB")
        XCTAssertEqual(x.first("Empty"), "")
        XCTAssertNil(x.first("Missing"))
    }

    func testConnectorSettings() throws {
        func d(_ config: [String: String], _ creds: [String: String] = [:]) -> ConnectorDescriptor {
            ConnectorDescriptor(id: "c1", type: "awskms", config: config, credentials: creds.mapValues { SecretBytes(utf8: $0) })
        }
        XCTAssertEqual(try AWSConnectorSettings(d(["region": "eu-west-1"])).credentialType, .delegateRole)
        XCTAssertEqual(try AWSConnectorSettings(d(["region": "eu-west-1"], ["accessKeyId": "A", "secretAccessKey": "B"])).credentialType, .accessKey)
        XCTAssertEqual(try AWSConnectorSettings(d(["region": "eu-west-1", "credentialType": "sts"])).credentialType, .assumeRole)
        XCTAssertThrowsError(try AWSConnectorSettings(d(["region": "Europe"])))
        XCTAssertThrowsError(try AWSConnectorSettings(d([:])))
        XCTAssertThrowsError(try AWSConnectorSettings(d(["region": "eu-west-1", "credentialType": "magic"])))
        XCTAssertThrowsError(try AWSConnectorSettings(d(["region": "eu-west-1", "dataKeyCacheTtlSeconds": "-1"])))
        XCTAssertEqual(try AWSEndpoint.url(service: "kms", region: "us-gov-west-1", custom: nil, fips: true), "https://kms-fips.us-gov-west-1.amazonaws.com")
        XCTAssertThrowsError(try AWSEndpoint.url(service: "kms", region: "eu-west-1", custom: "http://kms.example.com", fips: false))
        XCTAssertEqual(try AWSEndpoint.url(service: "kms", region: "eu-west-1", custom: "http://127.0.0.1:4566", fips: false), "http://127.0.0.1:4566")
        // The role ARN may come from a secret: the secret wins over plain text.
        XCTAssertEqual(d(["roleArn": "plain"], ["roleArn": "from-secret"]).setting("roleArn"), "from-secret")
    }
}
