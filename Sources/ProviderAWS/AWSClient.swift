import Foundation
import KeyProviders
import LegateCore

/// Sends signed requests to one AWS service endpoint and turns error answers into operator-worded
/// ``ProviderError``s. Retrying is the caller's job (``RetryPolicy`` on transient errors), except
/// for one immediate retry with fresh credentials when AWS says the session token expired.
struct AWSClient: Sendable {
    let service: String
    let region: String
    /// Base URL, e.g. `https://kms.eu-west-1.amazonaws.com` or a VPC/FIPS/test endpoint.
    let endpoint: String
    let credentials: any AWSCredentialProvider
    let transport: any HTTPTransport
    let timeout: Duration
    let now: @Sendable () -> Date

    init(
        service: String, region: String, endpoint: String, credentials: any AWSCredentialProvider, transport: any HTTPTransport,
        timeout: Duration = .seconds(10), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.service = service
        self.region = region
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.credentials = credentials
        self.transport = transport
        self.timeout = timeout
        self.now = now
    }

    /// A JSON 1.1 call (`X-Amz-Target: <targetPrefix>.<action>`), as KMS and Secrets Manager use.
    func json(targetPrefix: String, action: String, body: [String: Any], subject: String) async throws -> [String: Any] {
        let payload: [UInt8]
        do {
            payload = Array(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        } catch {
            throw ProviderError.configuration("aws_encoding", "Could not encode the \(service) \(action) request: \(error)")
        }
        let response = try await send(
            path: "/", headers: [
                ("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "\(targetPrefix).\(action)"),
            ], body: payload, action: action, subject: subject)
        if response.body.isEmpty { return [:] }
        guard let object = JSONValue.object(from: response.body) else {
            throw ProviderError.transient(
                "aws_bad_response", "\(service) \(action) on \(subject) answered HTTP \(response.status) with a body that is not JSON.")
        }
        return object
    }

    /// A Query-protocol call (form-encoded `Action=…&Version=…`), as STS uses. Returns the XML body.
    func query(action: String, version: String, parameters: [(String, String)], subject: String, signed: Bool = true) async throws
        -> XMLFields
    {
        var form = [("Action", action), ("Version", version)] + parameters
        form.sort { $0.0 < $1.0 }
        let body = form.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        let response = try await send(
            path: "/", headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], body: Array(body.utf8),
            action: action, subject: subject, signed: signed)
        return XMLFields(response.body)
    }

    /// RFC 3986 percent-encoding of everything but unreserved characters.
    static func formEncode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0f)]))
            }
        }
        return out
    }

    func send(
        path: String, headers: [(String, String)], body: [UInt8], action: String, subject: String, signed: Bool = true
    ) async throws -> ProviderHTTPResponse {
        var lastExpired: AWSServiceError?
        for attempt in 0..<2 {
            let url = endpoint + path
            var request = ProviderHTTPRequest(method: "POST", url: url, headers: headers, body: body)
            var route = "no credentials (unsigned)"
            if signed {
                let creds = try await attempt == 0 ? credentials.credentials() : credentials.refresh()
                route = credentials.route
                let signer = SigV4Signer(service: service, region: region)
                do {
                    request.headers += try signer.sign(
                        method: "POST", url: url, headers: request.headers, body: body, credentials: creds, date: now())
                } catch let e as any LegateError {
                    throw ProviderError.configuration(e.code, "\(service) endpoint \(endpoint): \(e.message)")
                }
            }
            let response = try await transport.send(request, timeout: timeout)
            if (200..<300).contains(response.status) { return response }
            let error = AWSServiceError.parse(status: response.status, body: response.body, headers: response.headers)
            // Our cached credentials looked valid but AWS disagrees (clock skew, revoked session):
            // fetch fresh ones once before giving up.
            if error.isExpiredToken && signed && attempt == 0 {
                lastExpired = error
                continue
            }
            throw error.providerError(action: "\(service):\(action)", subject: subject, route: route)
        }
        throw (lastExpired ?? AWSServiceError(status: 400, code: "ExpiredToken", message: ""))
            .providerError(action: "\(service):\(action)", subject: subject, route: credentials.route)
    }
}

/// AWS endpoints for a region, with the FIPS and custom-endpoint variants.
enum AWSEndpoint {
    /// `custom` wins (VPC endpoints, tests); `fips` picks the `<service>-fips` host.
    static func url(service: String, region: String, custom: String?, fips: Bool) throws -> String {
        if let custom, !custom.isEmpty {
            guard let u = URLComponents(string: custom), let scheme = u.scheme?.lowercased(), let host = u.host, !host.isEmpty else {
                throw ProviderError.configuration(
                    "invalid_endpoint", "The \(service) endpoint '\(custom)' is not a URL; expected https://host[:port].")
            }
            guard scheme == "https" || (scheme == "http" && isLoopback(host)) else {
                throw ProviderError.configuration(
                    "insecure_endpoint", "The \(service) endpoint '\(custom)' must use https (http is allowed to loopback addresses only).")
            }
            return custom
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return "https://\(service)\(fips ? "-fips" : "").\(region).\(suffix)"
    }

    static func isLoopback(_ host: String) -> Bool { Loopback.isLoopback(host: host) }
}
