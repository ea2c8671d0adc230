import Foundation
import LegateCore
import XCTest

@testable import ProviderAWS

/// SigV4 pinned to AWS's Signature Version 4 test suite (Resources/aws-sigv4, see its README.md).
///
/// Every case directory is loaded and checked against the header-signing files
/// (header-canonical-request.txt, header-string-to-sign.txt, header-signature.txt and the headers
/// added in header-signed-request.txt). The query-*.txt files are for query-string (presigned URL)
/// signing, which the signer does not implement, so they are deliberately not read.
///
/// Path normalization comes from each case's context.json `normalize` flag:
/// - `normalize: false` (S3-style, path kept as sent): get-relative-unnormalized,
///   get-relative-relative-unnormalized, get-slash-unnormalized, get-slash-dot-slash-unnormalized,
///   get-slash-pointless-dot-unnormalized, get-slashes-unnormalized, get-space-unnormalized.
/// - `normalize: true`: all other cases, including their *-normalized twins, get-utf8,
///   get-unreserved, get-space-normalized and every query and header case.
/// Every case uses service "service", so the path is double-encoded (encoded as sent). The request
/// paths in the suite are raw (a literal space, raw UTF-8), so that single pass gives `%20` and
/// `%E1%88%B4`; get-space-normalized and get-space-unnormalized therefore sign identically.
/// `sign_body: true` (the two x-www-form-urlencoded cases) maps to `addContentSHA256`, and
/// `omit_session_token` (post-sts-header-after/before) to `omitSessionToken`.
final class SigV4SignerTests: XCTestCase {
    // MARK: - AWS test suite

    func testAWSSignatureV4SuiteHeaderSigning() throws {
        let root = try Self.suiteRoot()
        let directories = try FileManager.default.contentsOfDirectory(
            at: root, includingPropertiesForKeys: [.isDirectoryKey]
        ).filter { (try? $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true }
        let cases = try directories.map { try VectorCase(directory: $0) }

        // An empty or partial list must fail, not pass vacuously.
        XCTAssertGreaterThan(cases.count, 30, "expected the full AWS SigV4 suite under \(root.path)")
        XCTAssertEqual(cases.count, directories.count)

        var checked = 0
        for vector in cases.sorted(by: { $0.name < $1.name }) {
            // One broken case must not hide the others.
            do { try check(vector) } catch { XCTFail("\(vector.name): \(error)") }
            checked += 1
        }
        XCTAssertEqual(checked, directories.count)
    }

    private func check(_ v: VectorCase) throws {
        let ctx = v.context
        let credentials = AWSCredentials(
            accessKeyId: ctx.credentials.accessKeyId, secretAccessKey: ctx.credentials.secretAccessKey,
            sessionToken: ctx.credentials.token)
        let host = try XCTUnwrap(
            v.request.headers.first { $0.0.lowercased() == "host" }?.1, "\(v.name): request.txt has no Host")
        let signer = SigV4Signer(service: ctx.service, region: ctx.region)

        let signed = try signer.signDetailed(
            method: v.request.method, url: "https://\(host)\(v.request.target)", headers: v.request.headers,
            body: v.request.body, credentials: credentials, date: try ctx.date(),
            normalizePath: ctx.normalize, addContentSHA256: ctx.signBody,
            omitSessionToken: ctx.omitSessionToken ?? false)

        XCTAssertEqual(signed.canonicalRequest, v.canonicalRequest, "\(v.name): canonical request")
        XCTAssertEqual(signed.stringToSign, v.stringToSign, "\(v.name): string to sign")
        XCTAssertEqual(signed.signature, v.signature, "\(v.name): signature")

        // The headers sign() adds are exactly those header-signed-request.txt has beyond request.txt.
        var expectedAdded = v.signedRequest.headers.map { ($0.0.lowercased(), $0.1) }
        for (name, value) in v.request.headers {
            let index = try XCTUnwrap(
                expectedAdded.firstIndex { $0.0 == name.lowercased() && $0.1 == value },
                "\(v.name): signed request lost header \(name)")
            expectedAdded.remove(at: index)
        }
        let actualAdded = signed.headers.map { ($0.0.lowercased(), $0.1) }
        XCTAssertEqual(
            actualAdded.sorted(by: Self.headerOrder).map { "\($0.0): \($0.1)" },
            expectedAdded.sorted(by: Self.headerOrder).map { "\($0.0): \($0.1)" }, "\(v.name): added headers")

        // The public sign() and the step functions agree with the detailed result.
        let plain = try signer.sign(
            method: v.request.method, url: "https://\(host)\(v.request.target)", headers: v.request.headers,
            body: v.request.body, credentials: credentials, date: try ctx.date(),
            normalizePath: ctx.normalize, addContentSHA256: ctx.signBody,
            omitSessionToken: ctx.omitSessionToken ?? false)
        XCTAssertEqual(plain.map { "\($0.0): \($0.1)" }, signed.headers.map { "\($0.0): \($0.1)" })
        XCTAssertEqual(signer.stringToSign(canonicalRequest: v.canonicalRequest, date: try ctx.date()), v.stringToSign)
        XCTAssertEqual(
            signer.signature(stringToSign: v.stringToSign, credentials: credentials, date: try ctx.date()), v.signature)
    }

    private static func headerOrder(_ a: (String, String), _ b: (String, String)) -> Bool {
        a.0 != b.0 ? a.0 < b.0 : a.1 < b.1
    }

    // MARK: - Session token

    private let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    private let kmsURL = "https://kms.us-east-1.amazonaws.com/"
    private let kmsHeaders = [
        ("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.Decrypt"),
        ("Host", "kms.us-east-1.amazonaws.com"),
    ]
    private let kmsBody = Array(#"{"CiphertextBlob":"AQIDAHh...","KeyId":"alias/legate"}"#.utf8)

    func testSessionTokenIsAddedAndSigned() throws {
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret-key-1", sessionToken: "tok-123")
        let signed = try SigV4Signer(service: "kms", region: "us-east-1").signDetailed(
            method: "POST", url: kmsURL, headers: kmsHeaders, body: kmsBody, credentials: creds, date: date)
        XCTAssertTrue(signed.headers.contains { $0.0 == "X-Amz-Security-Token" && $0.1 == "tok-123" })
        XCTAssertEqual(signed.signedHeaders, "content-type;host;x-amz-date;x-amz-security-token;x-amz-target")
        let authorization = try XCTUnwrap(signed.headers.last)
        XCTAssertEqual(authorization.0, "Authorization")
        XCTAssertTrue(authorization.1.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;"))
        XCTAssertTrue(
            authorization.1.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, "))
    }

    func testOmittedSessionTokenIsSentButNotSigned() throws {
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret-key-1", sessionToken: "tok-123")
        let signed = try SigV4Signer(service: "kms", region: "us-east-1").signDetailed(
            method: "POST", url: kmsURL, headers: kmsHeaders, body: kmsBody, credentials: creds, date: date,
            omitSessionToken: true)
        XCTAssertTrue(signed.headers.contains { $0.0 == "X-Amz-Security-Token" && $0.1 == "tok-123" })
        XCTAssertFalse(signed.signedHeaders.contains("x-amz-security-token"))
        XCTAssertFalse(signed.canonicalRequest.contains("tok-123"))
    }

    func testNoSessionTokenHeaderWithoutToken() throws {
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret-key-1")
        let headers = try SigV4Signer(service: "kms", region: "us-east-1").sign(
            method: "POST", url: kmsURL, headers: kmsHeaders, body: kmsBody, credentials: creds, date: date)
        XCTAssertEqual(headers.map(\.0), ["X-Amz-Date", "Authorization"])
    }

    // MARK: - Sensitivity and determinism

    func testSignatureDependsOnSecretAndIsDeterministic() throws {
        let signer = SigV4Signer(service: "kms", region: "us-east-1")
        func signature(_ secret: String, body: [UInt8]? = nil, date: Date? = nil) throws -> String {
            try signer.signDetailed(
                method: "POST", url: kmsURL, headers: kmsHeaders, body: body ?? kmsBody,
                credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret),
                date: date ?? self.date
            ).signature
        }
        let base = try signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        XCTAssertEqual(base, try signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
        XCTAssertNotEqual(base, try signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz"))
        XCTAssertNotEqual(base, try signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", body: kmsBody + [0x20]))
        XCTAssertNotEqual(
            base, try signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: date.addingTimeInterval(1)))
        XCTAssertEqual(base.count, 64)
        XCTAssertTrue(base.allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }

    func testTimestampsAreUTC() {
        XCTAssertEqual(SigV4Signer.timestamps(date).dateTime, "20150830T123600Z")
        XCTAssertEqual(SigV4Signer.timestamps(Date(timeIntervalSince1970: 0)).dateTime, "19700101T000000Z")
        XCTAssertEqual(SigV4Signer.timestamps(Date(timeIntervalSince1970: 951_782_399.9)).dateTime, "20000228T235959Z")
        XCTAssertEqual(SigV4Signer.timestamps(Date(timeIntervalSince1970: 951_782_400)).day, "20000229")
        XCTAssertEqual(SigV4Signer.timestamps(Date(timeIntervalSince1970: 4_107_542_400)).day, "21000301")
        XCTAssertEqual(SigV4Signer.timestamps(Date(timeIntervalSince1970: 253_402_300_799)).dateTime, "99991231T235959Z")
    }

    // MARK: - No secrets in text

    func testDescriptionsAndErrorsNeverContainSecrets() throws {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        let token = "SESSIONTOKENVALUE"
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: secret, sessionToken: token)
        let signer = SigV4Signer(service: "kms", region: "us-east-1")
        let signed = try signer.signDetailed(
            method: "POST", url: kmsURL, headers: kmsHeaders, body: kmsBody, credentials: creds, date: date)

        var texts = [
            String(describing: signer), String(reflecting: signer), String(describing: signed),
            String(reflecting: signed), String(describing: creds),
        ]
        var dumped = ""
        dump(signed, to: &dumped)
        texts.append(dumped)

        let failing: [(String, AWSCredentials, [(String, String)])] = [
            ("kms.amazonaws.com/?X-Amz-Security-Token=\(token)", creds, []),
            ("https://user:pw\(token)@/path", creds, []),
            ("https://host/pa\nth?token=\(token)", creds, []),
            (kmsURL, AWSCredentials(accessKeyId: "", secretAccessKey: secret, sessionToken: token), []),
            (kmsURL, AWSCredentials(accessKeyId: "AKID", secretAccessKey: secret, sessionToken: "a\nb\(token)"), []),
            (kmsURL, creds, [("Authorization", "AWS4-HMAC-SHA256 \(secret)")]),
        ]
        for (url, credentials, headers) in failing {
            do {
                _ = try signer.sign(
                    method: "POST", url: url, headers: headers, body: [], credentials: credentials, date: date)
                XCTFail("expected an error for \(SigV4Error.redactedURL(url))")
            } catch let error as SigV4Error {
                texts += [error.message, error.description, String(reflecting: error)]
            }
        }
        for text in texts {
            XCTAssertFalse(text.contains(secret), "secret leaked: \(text)")
            XCTAssertFalse(text.contains(token), "token leaked: \(text)")
        }
    }

    // MARK: - Errors

    func testUnparsableURLsThrowTypedErrors() {
        let signer = SigV4Signer(service: "kms", region: "us-east-1")
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "s")
        for url in ["", "kms.us-east-1.amazonaws.com/", "https://", "https:///path", "https://:443/", "1http://h/",
            "https://host/a\r\nInjected: x", "https://ho st/"]
        {
            XCTAssertThrowsError(
                try signer.sign(method: "GET", url: url, headers: [], body: [], credentials: creds, date: date)
            ) { error in
                guard let e = error as? SigV4Error else { return XCTFail("untyped error \(error)") }
                XCTAssertEqual(e.code, "sigv4_invalid_url")
                XCTAssertEqual(e.origin, .configuration)
                XCTAssertEqual(e.persistence, .permanent)
                XCTAssertTrue(e.message.contains("endpoint"), e.message)
            }
        }
    }

    func testRejectsHeadersTheSignerOwnsAndBadScope() {
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "s")
        for name in ["Authorization", "x-amz-date", "X-Amz-Security-Token"] {
            XCTAssertThrowsError(
                try SigV4Signer(service: "kms", region: "us-east-1").sign(
                    method: "GET", url: kmsURL, headers: [(name, "x")], body: [], credentials: creds, date: date))
        }
        for (service, region) in [("", "us-east-1"), ("kms", ""), ("k/ms", "us-east-1"), ("kms", "us east")] {
            XCTAssertThrowsError(
                try SigV4Signer(service: service, region: region).sign(
                    method: "GET", url: kmsURL, headers: [], body: [], credentials: creds, date: date))
        }
        XCTAssertThrowsError(
            try SigV4Signer(service: "kms", region: "us-east-1").sign(
                method: "GET", url: kmsURL, headers: [], body: [], credentials: creds,
                date: Date(timeIntervalSince1970: -1)))
    }

    // MARK: - Canonicalisation details not covered by the suite

    func testHostIsDerivedFromURLWhenMissing() throws {
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "s")
        let signer = SigV4Signer(service: "kms", region: "us-east-1")
        for (url, host) in [
            ("https://KMS.us-east-1.amazonaws.com:443/", "kms.us-east-1.amazonaws.com"),
            ("http://127.0.0.1:80", "127.0.0.1"),
            ("https://u:p@vpce.example:8443/x?y=1#frag", "vpce.example:8443"),
            ("http://[::1]:4566/", "[::1]:4566"),
        ] {
            let signed = try signer.signDetailed(
                method: "POST", url: url, headers: [], body: [], credentials: creds, date: date)
            XCTAssertEqual(signed.headers.first?.0, "Host")
            XCTAssertEqual(signed.headers.first?.1, host)
            XCTAssertTrue(signed.canonicalRequest.contains("\nhost:\(host)\n"), signed.canonicalRequest)
        }
    }

    func testPathEncodingModes() {
        func uri(_ path: String, normalize: Bool = true, double: Bool = true) -> String {
            SigV4Canonical.canonicalURI(path: path, normalize: normalize, doubleEncode: double)
        }
        // Non-S3 signs the path as sent, so an encoded space is encoded again.
        XCTAssertEqual(uri("/a%20b/c"), "/a%2520b/c")
        // S3 signs each segment encoded exactly once, whether or not the caller encoded it.
        XCTAssertEqual(uri("/a%20b/c", normalize: false, double: false), "/a%20b/c")
        XCTAssertEqual(uri("/a b/c+d", normalize: false, double: false), "/a%20b/c%2Bd")
        XCTAssertEqual(uri("/a/./b//../c", normalize: false, double: false), "/a/./b//../c")
        XCTAssertEqual(uri(""), "/")
        XCTAssertEqual(uri("/a/b/.."), "/a/")
        XCTAssertEqual(uri("/a/b/../../../c/"), "/c/")
        XCTAssertEqual(uri("/%E1%88%B4"), "/%25E1%2588%25B4")
        XCTAssertEqual(uri("/ሴ"), "/%E1%88%B4")
    }

    func testQueryCanonicalisation() {
        let q = SigV4Canonical.canonicalQuery
        XCTAssertEqual(q(""), "")
        XCTAssertEqual(q("a=&b"), "a=&b=")
        XCTAssertEqual(q("b=2&a=2&a=1&A=3"), "A=3&a=1&a=2&b=2")
        XCTAssertEqual(q("k=a b&k2=a+b&k3=a%2Fb&k4=ሴ"), "k=a%20b&k2=a%2Bb&k3=a%2Fb&k4=%E1%88%B4")
        XCTAssertEqual(q("a=1&&b=2&"), "a=1&b=2")
        XCTAssertEqual(q("x=%zz"), "x=%25zz")
        // Sorted on the encoded form: "%2A" (from "*") sorts before "-".
        XCTAssertEqual(q("-=1&*=2"), "%2A=2&-=1")
    }

    func testHeaderValuesAreTrimmedCollapsedAndJoined() {
        let (block, signed) = SigV4Canonical.canonicalHeaders([
            ("X-B", "  two   words \t here "), ("x-a", "1"), ("X-A", "line\n   folded"), ("User-Agent", "ignored"),
        ])
        XCTAssertEqual(block, "x-a:1,line folded\nx-b:two words here\n")
        XCTAssertEqual(signed, "x-a;x-b")
    }

    func testCallerPayloadHashIsUsed() throws {
        let signed = try SigV4Signer(service: "s3", region: "us-east-1").signDetailed(
            method: "PUT", url: "https://bucket.s3.amazonaws.com/key%20name",
            headers: [("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], body: [1, 2, 3],
            credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "s"), date: date,
            normalizePath: false, doubleEncodePath: false, addContentSHA256: true)
        XCTAssertTrue(signed.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
        XCTAssertTrue(signed.canonicalRequest.hasPrefix("PUT\n/key%20name\n"))
        XCTAssertFalse(signed.headers.contains { $0.0.lowercased() == "x-amz-content-sha256" })
    }

    // MARK: - Cost

    /// A KMS call is signed on every request: it must stay far below network cost even in debug builds.
    func testSigningAKMSRequestIsCheap() throws {
        let signer = SigV4Signer(service: "kms", region: "us-east-1")
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "token")
        let start = ContinuousClock.now
        for _ in 0..<500 {
            _ = try signer.sign(
                method: "POST", url: kmsURL, headers: kmsHeaders, body: kmsBody, credentials: creds, date: date)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), "500 KMS signatures took too long")
    }

    /// Ten times the headers, query parameters and path segments must cost about ten times as much,
    /// not a hundred. Best of three runs to ride out a busy machine.
    func testSigningScalesLinearly() throws {
        let signer = SigV4Signer(service: "service", region: "us-east-1")
        let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret")
        func cost(_ n: Int) throws -> Duration {
            let headers = (0..<n).map { ("X-Custom-\(n - $0)", "value  \($0)   with   spaces") }
            let query = (0..<n).map { "p\(n - $0)=v%20\($0)" }.joined(separator: "&")
            let path = (0..<n).map { "seg\($0)" }.joined(separator: "/./")
            let body = [UInt8](repeating: 0x61, count: n * 100)
            var best = Duration.seconds(1_000)
            for _ in 0..<3 {
                let start = ContinuousClock.now
                _ = try signer.sign(
                    method: "POST", url: "https://h.example/\(path)?\(query)", headers: headers, body: body,
                    credentials: creds, date: date)
                best = min(best, ContinuousClock.now - start)
            }
            return best
        }
        _ = try cost(100)  // warm up
        let small = try cost(400)
        let large = try cost(4_000)
        XCTAssertLessThan(large, small * 40, "signing cost grew super-linearly: \(small) -> \(large)")
    }

    // MARK: - Loading the suite

    static func suiteRoot() throws -> URL {
        let resources = try XCTUnwrap(
            Bundle.module.url(forResource: "Resources", withExtension: nil), "test resources are not bundled")
        return resources.appendingPathComponent("aws-sigv4", isDirectory: true)
    }
}

/// One case directory of the suite.
private struct VectorCase {
    struct Context: Decodable {
        struct Credentials: Decodable {
            var accessKeyId: String
            var secretAccessKey: String
            var token: String?
        }
        var credentials: Credentials
        var region: String
        var service: String
        var timestamp: String
        var normalize: Bool
        var signBody: Bool
        var omitSessionToken: Bool?

        func date() throws -> Date {
            try XCTUnwrap(ISO8601DateFormatter().date(from: timestamp), "bad timestamp \(timestamp)")
        }
    }

    var name: String
    var context: Context
    var request: RawRequest
    var signedRequest: RawRequest
    var canonicalRequest: String
    var stringToSign: String
    var signature: String

    init(directory: URL) throws {
        name = directory.lastPathComponent
        func read(_ file: String) throws -> [UInt8] {
            do {
                return Array(try Data(contentsOf: directory.appendingPathComponent(file)))
            } catch {
                throw VectorError("\(directory.lastPathComponent)/\(file): \(error)")
            }
        }
        func text(_ file: String) throws -> String { String(decoding: try read(file), as: UTF8.self) }

        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        context = try decoder.decode(Context.self, from: Data(try read("context.json")))
        request = try RawRequest(try read("request.txt"), name: name)
        signedRequest = try RawRequest(try read("header-signed-request.txt"), name: name)
        canonicalRequest = try text("header-canonical-request.txt")
        stringToSign = try text("header-string-to-sign.txt")
        signature = try text("header-signature.txt")
    }
}

/// An HTTP/1.1 request as written in the suite: request line, headers (a line starting with
/// whitespace continues the previous value), a blank line, then the body.
private struct RawRequest {
    var method: String
    var target: String
    var headers: [(String, String)]
    var body: [UInt8]

    init(_ bytes: [UInt8], name: String) throws {
        let nl = UInt8(ascii: "\n")
        var head = bytes[...]
        body = []
        if let end = (0..<max(bytes.count - 1, 0)).first(where: { bytes[$0] == nl && bytes[$0 + 1] == nl }) {
            head = bytes[..<end]
            body = Array(bytes[(end + 2)...])
        } else if head.last == nl {
            head = head.dropLast()
        }
        var lines = head.split(separator: nl, omittingEmptySubsequences: false).map {
            String(decoding: $0.last == UInt8(ascii: "\r") ? $0.dropLast() : $0, as: UTF8.self)
        }
        guard !lines.isEmpty else { throw VectorError("\(name): empty request") }
        let requestLine = lines.removeFirst()
        guard let firstSpace = requestLine.firstIndex(of: " "), let lastSpace = requestLine.lastIndex(of: " "),
            firstSpace < lastSpace
        else { throw VectorError("\(name): bad request line '\(requestLine)'") }
        method = String(requestLine[..<firstSpace])
        target = String(requestLine[requestLine.index(after: firstSpace)..<lastSpace])

        headers = []
        for line in lines {
            if line.first == " " || line.first == "\t" {
                guard !headers.isEmpty else { throw VectorError("\(name): continuation before any header") }
                headers[headers.count - 1].1 += "\n" + line
            } else {
                guard let colon = line.firstIndex(of: ":") else { throw VectorError("\(name): bad header '\(line)'") }
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
    }
}

private struct VectorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
