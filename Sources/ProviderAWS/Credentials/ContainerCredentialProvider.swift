import Foundation
import KeyProviders

/// ECS task roles and EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (against
/// 169.254.170.2) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the authorization token from
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (re-read on every fetch, it rotates) or
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
public struct ContainerCredentialProvider: AWSCredentialProvider {
    let environment: [String: String]
    let transport: any HTTPTransport
    let timeout: Duration
    public var route: String { "container credentials (\(uriVariable))" }

    var uriVariable: String {
        environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"].map { _ in "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" }
            ?? "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    }

    public init(environment: [String: String], transport: any HTTPTransport, timeout: Duration = .seconds(2)) {
        self.environment = environment
        self.transport = transport
        self.timeout = timeout
    }

    /// Hosts the SDKs accept for a plain-http full URI: loopback and the ECS/EKS link-local agents.
    static let allowedHTTPHosts: Set<String> = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23", "[fd00:ec2::23]"]

    func url() throws -> String {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            return "http://169.254.170.2" + (relative.hasPrefix("/") ? relative : "/" + relative)
        }
        guard let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty else {
            throw CredentialSourceAbsent(reason: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set")
        }
        guard let u = URLComponents(string: full), let scheme = u.scheme?.lowercased(), let host = u.host else {
            throw ProviderError.configuration(
                "aws_container_uri", "AWS_CONTAINER_CREDENTIALS_FULL_URI '\(full)' is not a URL.")
        }
        guard scheme == "https" || (scheme == "http" && (AWSEndpoint.isLoopback(host) || Self.allowedHTTPHosts.contains(host))) else {
            throw ProviderError.configuration(
                "aws_container_uri",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI '\(full)' must be https, or http to a loopback address or the ECS/EKS agent (169.254.170.2, 169.254.170.23).")
        }
        return full
    }

    func authorization() throws -> String? {
        if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !file.isEmpty {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ProviderError.configuration(
                    "aws_container_token_file", "Cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE '\(file)'; check that it is mounted and readable by the delegate.")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public func credentials() async throws -> AWSCredentials {
        let url = try url()
        var headers: [(String, String)] = [("Accept", "application/json")]
        if let auth = try authorization() {
            guard !auth.contains("\r"), !auth.contains("\n") else {
                throw ProviderError.configuration("aws_container_token", "The container authorization token contains a line break; check its file.")
            }
            headers.append(("Authorization", auth))
        }
        let response = try await transport.send(ProviderHTTPRequest(method: "GET", url: url, headers: headers), timeout: timeout)
        guard response.status == 200 else {
            let error = AWSServiceError.parse(status: response.status, body: response.body, headers: response.headers)
            let what = "The container credentials endpoint \(url) answered HTTP \(response.status) (\(error.message.isEmpty ? error.code : error.message))"
            if response.status >= 500 || response.status == 429 { throw ProviderError.transient("aws_container_unavailable", what + "; retrying.") }
            throw ProviderError.permanent("aws_container_refused", what + ". Check the task or pod role and the authorization token.")
        }
        return try RoleCredentialsJSON.parse(response.body, source: "the container credentials endpoint \(url)")
    }
}

/// The JSON shape both the container endpoint and IMDS return for role credentials.
enum RoleCredentialsJSON {
    static func parse(_ body: [UInt8], source: String) throws -> AWSCredentials {
        guard let o = JSONValue.object(from: body) else {
            throw ProviderError.transient("aws_bad_credentials_response", "\(source) did not answer with JSON credentials.")
        }
        if let code = o["Code"] as? String, code != "Success" {
            throw ProviderError.transient("aws_credentials_unavailable", "\(source) says \(code): \(o["Message"] as? String ?? "")")
        }
        guard let id = o["AccessKeyId"] as? String, let secret = o["SecretAccessKey"] as? String else {
            throw ProviderError.transient("aws_bad_credentials_response", "\(source) answered without AccessKeyId/SecretAccessKey.")
        }
        let expiration = (o["Expiration"] as? String).flatMap(AWSDate.parse)
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: o["Token"] as? String, expiration: expiration)
    }
}

/// ISO 8601 timestamps as AWS writes them, with or without fractional seconds.
enum AWSDate {
    static func parse(_ text: String) -> Date? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let d = try? Date(t, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return d }
        if let d = try? Date(t, strategy: Date.ISO8601FormatStyle()) { return d }
        // STS may answer epoch seconds in some SDK-compatible endpoints.
        if let seconds = Double(t) { return Date(timeIntervalSince1970: seconds) }
        return nil
    }
}
