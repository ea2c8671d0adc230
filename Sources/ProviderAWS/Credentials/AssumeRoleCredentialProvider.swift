import Foundation
import KeyProviders
import LegateCrypto

/// What STS needs to assume a role, validated up front so a bad connector fails before any call.
public struct AssumeRoleSettings: Sendable, Equatable {
    public var roleArn: String
    public var sessionName: String
    public var externalId: String?
    /// 900–43200 seconds (the role's maximum session duration may be lower; STS then says so).
    public var durationSeconds: Int

    public static let durationRange = 900...43_200

    public init(roleArn: String, sessionName: String = "legate", externalId: String? = nil, durationSeconds: Int = 3600) throws {
        guard roleArn.hasPrefix("arn:aws"), roleArn.split(separator: ":", omittingEmptySubsequences: false).count >= 6,
            roleArn.contains(":role/")
        else {
            throw ProviderError.configuration(
                "invalid_role_arn", "'\(roleArn)' is not an IAM role ARN; expected arn:aws:iam::<account>:role/<name>.")
        }
        guard Self.durationRange.contains(durationSeconds) else {
            throw ProviderError.configuration(
                "invalid_duration", "Assume-role duration \(durationSeconds) s is outside 900–43200 seconds; STS accepts nothing else.")
        }
        let validName = sessionName.count >= 2 && sessionName.count <= 64
            && sessionName.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "=,.@-_".unicodeScalars.contains($0) }
        guard validName else {
            throw ProviderError.configuration(
                "invalid_session_name", "Role session name '\(sessionName)' must be 2–64 characters of letters, digits and =,.@-_.")
        }
        if let externalId, externalId.count < 2 || externalId.count > 1224 {
            throw ProviderError.configuration("invalid_external_id", "The external ID must be 2–1224 characters long.")
        }
        self.roleArn = roleArn
        self.sessionName = sessionName
        self.externalId = externalId
        self.durationSeconds = durationSeconds
    }
}

/// STS AssumeRole signed with the credentials of another source (keys, environment, instance or
/// container role). Wrap it in ``CachingCredentialProvider``.
public struct AssumeRoleCredentialProvider: AWSCredentialProvider {
    let settings: AssumeRoleSettings
    let sts: AWSClient
    public let route: String

    /// `stsEndpoint`: base URL of STS (regional by default).
    public init(
        settings: AssumeRoleSettings, base: any AWSCredentialProvider, region: String, stsEndpoint: String,
        transport: any HTTPTransport, timeout: Duration = .seconds(10), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.settings = settings
        self.sts = AWSClient(
            service: "sts", region: region, endpoint: stsEndpoint, credentials: base, transport: transport, timeout: timeout, now: now)
        self.route = "STS AssumeRole of \(settings.roleArn) with \(base.route)"
    }

    public func credentials() async throws -> AWSCredentials {
        var parameters = [
            ("RoleArn", settings.roleArn), ("RoleSessionName", settings.sessionName),
            ("DurationSeconds", String(settings.durationSeconds)),
        ]
        if let externalId = settings.externalId { parameters.append(("ExternalId", externalId)) }
        let xml = try await sts.query(action: "AssumeRole", version: "2011-06-15", parameters: parameters, subject: "role \(settings.roleArn)")
        return try STSCredentials.parse(xml, what: "AssumeRole of \(settings.roleArn)")
    }
}

/// OIDC federation: STS AssumeRoleWithWebIdentity with a token from a file (re-read on every
/// fetch: Kubernetes rotates projected tokens) or supplied with the task by the manager. The
/// request is unsigned, as AWS documents; the token is the proof.
public struct WebIdentityCredentialProvider: AWSCredentialProvider {
    public enum TokenSource: Sendable {
        case file(String)
        case value(SecretBytes)
    }

    let roleArn: String
    let sessionName: String
    let durationSeconds: Int?
    let token: TokenSource
    let sts: AWSClient
    public let route: String

    public init(
        roleArn: String, sessionName: String, durationSeconds: Int? = nil, token: TokenSource, region: String, stsEndpoint: String,
        transport: any HTTPTransport, timeout: Duration = .seconds(10), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.roleArn = roleArn
        self.sessionName = sessionName
        self.durationSeconds = durationSeconds
        self.token = token
        self.sts = AWSClient(
            service: "sts", region: region, endpoint: stsEndpoint, credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: "", secretAccessKey: "")),
            transport: transport, timeout: timeout, now: now)
        switch token {
        case .file(let path): self.route = "web identity (AssumeRoleWithWebIdentity of \(roleArn), token file \(path))"
        case .value: self.route = "web identity (AssumeRoleWithWebIdentity of \(roleArn), token from the manager)"
        }
    }

    func tokenText() throws -> String {
        switch token {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ProviderError.configuration(
                    "aws_web_identity_token_file", "Cannot read the web identity token file '\(path)'; check that it is mounted and readable by the delegate.")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else {
                throw ProviderError.configuration("aws_web_identity_token_file", "The web identity token file '\(path)' is empty.")
            }
            return text
        case .value(let bytes):
            return bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    public func credentials() async throws -> AWSCredentials {
        var parameters = [("RoleArn", roleArn), ("RoleSessionName", sessionName), ("WebIdentityToken", try tokenText())]
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        let xml: XMLFields
        do {
            xml = try await sts.query(
                action: "AssumeRoleWithWebIdentity", version: "2011-06-15", parameters: parameters, subject: "role \(roleArn)", signed: false)
        } catch let e as ProviderError where e.code == "aws_expired_token" {
            // Here "expired" is the web identity token itself, not a session.
            let source: String
            switch token {
            case .file(let path): source = "the token file \(path)"
            case .value: source = "the webIdentityToken credential"
            }
            throw ProviderError.permanent(
                "aws_web_identity_token_expired",
                "STS says the web identity token from \(source) has expired (role \(roleArn)). Make sure it is refreshed (projected service-account tokens are) or update the credential.")
        }
        return try STSCredentials.parse(xml, what: "AssumeRoleWithWebIdentity of \(roleArn)")
    }
}

enum STSCredentials {
    static func parse(_ xml: XMLFields, what: String) throws -> AWSCredentials {
        guard let id = xml.first("AccessKeyId"), let secret = xml.first("SecretAccessKey"), let token = xml.first("SessionToken") else {
            throw ProviderError.transient("aws_bad_sts_response", "STS answered \(what) without credentials.")
        }
        return AWSCredentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: token, expiration: xml.first("Expiration").flatMap(AWSDate.parse))
    }
}
