import Foundation
import KeyProviders

/// The EC2 instance role through IMDSv2: `PUT /latest/api/token` for a session token, then the
/// role name and its credentials with that token. `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves the
/// endpoint (as in the SDKs), `AWS_EC2_METADATA_DISABLED=true` turns it off.
public actor InstanceMetadataCredentialProvider: AWSCredentialProvider {
    let environment: [String: String]
    let transport: any HTTPTransport
    let timeout: Duration
    let now: @Sendable () -> Date
    /// The IMDS session token is reused until shortly before its TTL ends.
    private var token: (value: String, expires: Date)?
    static let tokenTTL = 21_600
    public nonisolated let route: String

    public init(
        environment: [String: String], transport: any HTTPTransport, timeout: Duration = .seconds(2),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.environment = environment
        self.transport = transport
        self.timeout = timeout
        self.now = now
        self.route = "the EC2 instance role (IMDSv2 at \(Self.endpoint(environment)))"
    }

    static func endpoint(_ environment: [String: String]) -> String {
        var e = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://169.254.169.254"
        while e.hasSuffix("/") { e.removeLast() }
        return e
    }

    public func credentials() async throws -> AWSCredentials {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" {
            throw CredentialSourceAbsent(reason: "AWS_EC2_METADATA_DISABLED is true")
        }
        do {
            return try await fetchCredentials()
        } catch let e as MetadataTokenRejected {
            // The token expired or IMDS restarted: get a new one, once.
            _ = e
            token = nil
            return try await fetchCredentials()
        }
    }

    struct MetadataTokenRejected: Error {}

    private func sessionToken() async throws -> String {
        if let token, token.expires > now() { return token.value }
        let base = Self.endpoint(environment)
        let response: ProviderHTTPResponse
        do {
            response = try await transport.send(
                ProviderHTTPRequest(
                    method: "PUT", url: base + "/latest/api/token",
                    headers: [("X-aws-ec2-metadata-token-ttl-seconds", String(Self.tokenTTL))]),
                timeout: timeout)
        } catch let e as ProviderError {
            // Nothing answering at the metadata address means "not on EC2" for the chain.
            throw CredentialSourceAbsent(reason: "no instance metadata service at \(base) (\(e.message))")
        }
        guard response.status == 200, !response.body.isEmpty else {
            if response.status == 403 {
                throw ProviderError.permanent(
                    "aws_imds_disabled", "The instance metadata service at \(base) refused a session token (HTTP 403); IMDS may be disabled for this instance.")
            }
            throw ProviderError.transient("aws_imds_token", "The instance metadata service at \(base) answered HTTP \(response.status) to the token request.")
        }
        let value = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let ttl = response.header("X-aws-ec2-metadata-token-ttl-seconds").flatMap(Int.init) ?? Self.tokenTTL
        token = (value, now().addingTimeInterval(TimeInterval(max(ttl - 60, 1))))
        return value
    }

    private func get(_ path: String) async throws -> [UInt8] {
        let t = try await sessionToken()
        let base = Self.endpoint(environment)
        let response = try await transport.send(
            ProviderHTTPRequest(method: "GET", url: base + path, headers: [("X-aws-ec2-metadata-token", t)]), timeout: timeout)
        switch response.status {
        case 200: return response.body
        case 401: throw MetadataTokenRejected()
        case 404:
            throw ProviderError.permanent(
                "aws_imds_no_role", "This instance has no IAM role (\(base)\(path) answered 404); attach an instance profile or use another credential type.")
        default:
            throw ProviderError.transient("aws_imds_unavailable", "The instance metadata service answered HTTP \(response.status) for \(path).")
        }
    }

    private func fetchCredentials() async throws -> AWSCredentials {
        let listing = String(decoding: try await get("/latest/meta-data/iam/security-credentials/"), as: UTF8.self)
        guard let role = listing.split(whereSeparator: \.isNewline).first.map({ String($0).trimmingCharacters(in: .whitespaces) }), !role.isEmpty else {
            throw ProviderError.permanent("aws_imds_no_role", "This instance has no IAM role attached; attach an instance profile.")
        }
        let body = try await get("/latest/meta-data/iam/security-credentials/" + role)
        return try RoleCredentialsJSON.parse(body, source: "the instance metadata service (role \(role))")
    }
}
