import Crypto
import Foundation
import LegateCore

/// Why a request could not be signed. Always a problem with the request or credentials handed to
/// the signer, so retrying the same input will not help.
///
/// Messages never contain the secret access key, the session token, or a URL's query or user info.
public struct SigV4Error: LegateError, Equatable {
    public let code: String
    public let message: String
    public var origin: ErrorOrigin { .configuration }
    public var persistence: ErrorPersistence { .permanent }

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    static func invalidURL(_ url: String, reason: String) -> SigV4Error {
        SigV4Error(
            code: "sigv4_invalid_url",
            message: "Cannot sign a request to '\(redactedURL(url))': \(reason). Check the configured endpoint.")
    }

    static func invalidRequest(_ message: String) -> SigV4Error {
        SigV4Error(code: "sigv4_invalid_request", message: message)
    }

    static func invalidCredentials(_ message: String) -> SigV4Error {
        SigV4Error(code: "sigv4_invalid_credentials", message: message)
    }

    /// The URL with query, fragment and user info removed (they may carry tokens), control
    /// characters replaced and length capped, so it can be quoted in an error.
    static func redactedURL(_ url: String) -> String {
        var s = Substring(url)
        var cut = false
        if let i = s.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            s = s[..<i]
            cut = true
        }
        var result = String(s)
        let authorityStart = result.range(of: "://")?.upperBound ?? result.startIndex
        let authorityEnd = result[authorityStart...].firstIndex(of: "/") ?? result.endIndex
        if let at = result[authorityStart..<authorityEnd].lastIndex(of: "@") {
            result.replaceSubrange(authorityStart...at, with: "<userinfo>@")
        }
        var out = String(
            String.UnicodeScalarView(result.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        if out.count > 200 { out = String(out.prefix(200)) + "…" }
        return cut ? out + "?<query omitted>" : out
    }
}

/// AWS Signature Version 4 for request headers (`Authorization` header signing).
///
/// A pure value: the same inputs and `date` always give the same output, and nothing is cached
/// between calls. Query-string (presigned URL) signing is not implemented.
public struct SigV4Signer: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"

    /// Signing name of the service, e.g. `kms`, `secretsmanager`, `sts`, `s3`.
    public let service: String
    /// Region the request is sent to, e.g. `eu-west-1`.
    public let region: String

    public init(service: String, region: String) {
        self.service = service
        self.region = region
    }

    /// Every intermediate value of one signing, for tests and diagnostics.
    ///
    /// `description` shows only the signed header names and the signature: the canonical request
    /// and the headers may contain the session token.
    public struct Signed: Sendable, CustomStringConvertible, CustomReflectable {
        public var canonicalRequest: String
        public var stringToSign: String
        /// Lowercase hex HMAC-SHA256.
        public var signature: String
        /// `;`-separated lowercase names, as in the `Authorization` header.
        public var signedHeaders: String
        /// Headers to add to the request, `Authorization` last.
        public var headers: [(String, String)]

        public var description: String {
            "SigV4Signer.Signed(signedHeaders: \(signedHeaders), signature: \(signature))"
        }

        public var customMirror: Mirror {
            Mirror(self, children: ["signedHeaders": signedHeaders, "signature": signature])
        }
    }

    /// Signs a request and returns the headers to add to it.
    ///
    /// The result holds `X-Amz-Date`, `X-Amz-Security-Token` when the credentials have a session
    /// token, `x-amz-content-sha256` when asked for, `Host` when `headers` has none (derived from
    /// `url`), and `Authorization`. Every header in `headers` is signed, except hop-by-hop headers
    /// and `User-Agent`, which intermediaries may rewrite.
    ///
    /// - Parameters:
    ///   - url: the full URL as it will be sent, including the query.
    ///   - headers: the request's own headers. They must not already contain `Authorization`,
    ///     `X-Amz-Date` or `X-Amz-Security-Token`. An `x-amz-content-sha256` header (for example
    ///     S3's `UNSIGNED-PAYLOAD`) is used as the payload hash instead of hashing `body`.
    ///   - date: the signing time; pass the clock's now. AWS rejects signatures more than
    ///     about five minutes off its own clock.
    ///   - normalizePath: remove `.`/`..` segments and collapse `//`. True for every service but S3.
    ///   - doubleEncodePath: percent-encode the path as sent (so `%20` is signed as `%2520`).
    ///     True for every service but S3, which signs the path encoded once.
    ///   - addContentSHA256: add and sign `x-amz-content-sha256` (required by S3).
    ///   - omitSessionToken: add `X-Amz-Security-Token` after signing instead of signing it, for
    ///     the few services that expect that.
    /// - Throws: ``SigV4Error`` when the URL cannot be parsed or the request or credentials are
    ///   unusable.
    public func sign(
        method: String, url: String, headers: [(String, String)], body: [UInt8], credentials: AWSCredentials,
        date: Date, normalizePath: Bool = true, doubleEncodePath: Bool = true, addContentSHA256: Bool = false,
        omitSessionToken: Bool = false
    ) throws -> [(String, String)] {
        try signDetailed(
            method: method, url: url, headers: headers, body: body, credentials: credentials, date: date,
            normalizePath: normalizePath, doubleEncodePath: doubleEncodePath, addContentSHA256: addContentSHA256,
            omitSessionToken: omitSessionToken
        ).headers
    }

    /// ``sign(method:url:headers:body:credentials:date:normalizePath:doubleEncodePath:addContentSHA256:omitSessionToken:)``
    /// returning every intermediate step as well.
    public func signDetailed(
        method: String, url: String, headers: [(String, String)], body: [UInt8], credentials: AWSCredentials,
        date: Date, normalizePath: Bool = true, doubleEncodePath: Bool = true, addContentSHA256: Bool = false,
        omitSessionToken: Bool = false
    ) throws -> Signed {
        try validateScope()
        try Self.validate(credentials)
        try Self.validate(method: method)
        guard Self.secondsRange.contains(date.timeIntervalSince1970) else {
            throw SigV4Error.invalidRequest(
                "The signing date \(date) is outside years 1970-9999; check the system clock.")
        }
        let parts = try SigV4Canonical.parseURL(url)

        var hasHost = false
        var callerPayloadHash: String?
        for (name, value) in headers {
            let lower = name.lowercased()
            if name.isEmpty || name.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: ":") || $0 == 0x7F }) {
                throw SigV4Error.invalidRequest(
                    "A request header name is empty or contains spaces, colons or control characters; fix the caller.")
            }
            switch lower {
            case "host": hasHost = true
            case "x-amz-content-sha256": callerPayloadHash = SigV4Canonical.normalizeValue(value)
            case "authorization", "x-amz-date", "x-amz-security-token":
                throw SigV4Error.invalidRequest(
                    "The request already has a '\(name)' header; the signer adds it. Sign each attempt from the unsigned headers.")
            default: break
            }
        }

        var added: [(String, String)] = []
        var signed = headers
        if !hasHost {
            added.append(("Host", parts.hostHeader))
            signed.append(("Host", parts.hostHeader))
        }
        let (_, amzDate) = Self.timestamps(date)
        added.append(("X-Amz-Date", amzDate))
        signed.append(("X-Amz-Date", amzDate))

        if let token = credentials.sessionToken?.unsafeValue {
            let trimmed = token.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, !trimmed.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
                throw SigV4Error.invalidCredentials(
                    "The AWS session token for access key \(credentials.accessKeyId) is empty or contains control characters; the credential source returned a malformed token.")
            }
            added.append(("X-Amz-Security-Token", trimmed))
            if !omitSessionToken { signed.append(("X-Amz-Security-Token", trimmed)) }
        }

        let payloadHash = callerPayloadHash ?? SigV4Canonical.hex(SHA256.hash(data: body))
        if addContentSHA256 && callerPayloadHash == nil {
            added.append(("x-amz-content-sha256", payloadHash))
            signed.append(("x-amz-content-sha256", payloadHash))
        }

        let canonical = canonicalRequest(
            method: method, parts: parts, headers: signed, payloadHash: payloadHash, normalizePath: normalizePath,
            doubleEncodePath: doubleEncodePath)
        let toSign = stringToSign(canonicalRequest: canonical.text, date: date)
        let sig = signature(stringToSign: toSign, credentials: credentials, date: date)
        added.append(
            (
                "Authorization",
                "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(credentialScope(date: date)), "
                    + "SignedHeaders=\(canonical.signedHeaders), Signature=\(sig)"
            ))
        return Signed(
            canonicalRequest: canonical.text, stringToSign: toSign, signature: sig,
            signedHeaders: canonical.signedHeaders, headers: added)
    }

    // MARK: - Steps

    /// Step 1: the canonical request for exactly `headers` (which must already include `Host`,
    /// `X-Amz-Date` and any other header to be signed).
    public func canonicalRequest(
        method: String, url: String, headers: [(String, String)], payloadHash: String, normalizePath: Bool = true,
        doubleEncodePath: Bool = true
    ) throws -> String {
        let parts = try SigV4Canonical.parseURL(url)
        return canonicalRequest(
            method: method, parts: parts, headers: headers, payloadHash: payloadHash, normalizePath: normalizePath,
            doubleEncodePath: doubleEncodePath
        ).text
    }

    func canonicalRequest(
        method: String, parts: SigV4Canonical.URLParts, headers: [(String, String)], payloadHash: String,
        normalizePath: Bool, doubleEncodePath: Bool
    ) -> (text: String, signedHeaders: String) {
        let uri = SigV4Canonical.canonicalURI(path: parts.path, normalize: normalizePath, doubleEncode: doubleEncodePath)
        let query = SigV4Canonical.canonicalQuery(parts.query)
        let (block, signedHeaders) = SigV4Canonical.canonicalHeaders(headers)
        // The header block ends in "\n", which with the separator gives AWS's blank line.
        let text = [method, uri, query, block, signedHeaders, payloadHash].joined(separator: "\n")
        return (text, signedHeaders)
    }

    /// Step 2: algorithm, timestamp, scope and the hash of the canonical request.
    public func stringToSign(canonicalRequest: String, date: Date) -> String {
        let (_, amzDate) = Self.timestamps(date)
        return [
            Self.algorithm, amzDate, credentialScope(date: date),
            SigV4Canonical.hex(SHA256.hash(data: Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
    }

    /// Step 3: lowercase hex HMAC of the string to sign under the derived signing key.
    public func signature(stringToSign: String, credentials: AWSCredentials, date: Date) -> String {
        let key = signingKey(secretAccessKey: credentials.secretAccessKey, date: date)
        return SigV4Canonical.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// `yyyymmdd/region/service/aws4_request`.
    public func credentialScope(date: Date) -> String {
        "\(Self.timestamps(date).day)/\(region)/\(service)/aws4_request"
    }

    /// Derived per day, region and service; recomputing costs four HMACs, too little to justify
    /// keeping key material in a cache.
    func signingKey(secretAccessKey: Redacted<String>, date: Date) -> SymmetricKey {
        var key = SymmetricKey(data: Array(("AWS4" + secretAccessKey.unsafeValue).utf8))
        for part in [Self.timestamps(date).day, region, service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key
    }

    // MARK: - Validation

    private func validateScope() throws {
        for (label, value) in [("service", service), ("region", region)] {
            if value.isEmpty || value.contains(where: { $0 == "/" || $0.isWhitespace || !$0.isASCII }) {
                throw SigV4Error.invalidRequest(
                    "The AWS \(label) '\(value.prefix(64))' is empty or contains '/', spaces or non-ASCII characters; set a valid \(label) name.")
            }
        }
    }

    private static func validate(_ credentials: AWSCredentials) throws {
        let id = credentials.accessKeyId
        if id.isEmpty || id.contains(where: { $0 == "/" || $0 == "," || $0.isWhitespace || !$0.isASCII }) {
            throw SigV4Error.invalidCredentials(
                "The AWS access key id is empty or malformed (it must be ASCII without '/', ',' or spaces); check the credential source.")
        }
        if credentials.secretAccessKey.unsafeValue.isEmpty {
            throw SigV4Error.invalidCredentials(
                "The AWS secret access key for access key \(id) is empty; check the credential source.")
        }
    }

    private static func validate(method: String) throws {
        if method.isEmpty || method.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            throw SigV4Error.invalidRequest(
                "The HTTP method '\(method.prefix(32))' is empty or contains spaces or non-ASCII characters; use e.g. GET or POST.")
        }
    }

    // MARK: - Time

    /// 1970-01-01T00:00:00Z ... 9999-12-31T23:59:59Z, the range the 4-digit year format can hold.
    static let secondsRange: ClosedRange<Double> = 0...253_402_300_799

    /// `yyyymmdd` and `yyyymmddThhmmssZ` in UTC, computed arithmetically: no formatter, locale or
    /// calendar state, so it is cheap and identical on every platform. Out-of-range dates are clamped.
    static func timestamps(_ date: Date) -> (day: String, dateTime: String) {
        let raw = date.timeIntervalSince1970
        let clamped = raw.isNaN ? 0 : min(max(raw, secondsRange.lowerBound), secondsRange.upperBound)
        let seconds = Int64(clamped.rounded(.down))
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        // Days since 1970-01-01 to a proleptic Gregorian date, counting 400-year eras from 0000-03-01.
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

        let dayStamp = pad(year, 4) + pad(month, 2) + pad(day, 2)
        let time = pad(secondOfDay / 3_600, 2) + pad(secondOfDay / 60 % 60, 2) + pad(secondOfDay % 60, 2)
        return (dayStamp, dayStamp + "T" + time + "Z")
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
