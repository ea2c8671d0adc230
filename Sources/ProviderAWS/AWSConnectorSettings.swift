import Foundation
import KeyProviders
import LegateCrypto
import Logging

/// How an AWS connector authenticates, as chosen in the connector (seed 001's four options).
public enum AWSCredentialType: String, Sendable, CaseIterable {
    /// Access key id + secret key, stored as built-in secrets.
    case accessKey = "access_key"
    /// The delegate host's own identity: environment, web identity from the environment, ECS/EKS
    /// container credentials, EC2 instance role (IMDSv2), in the SDKs' order.
    case delegateRole = "delegate_role"
    /// STS AssumeRole (role ARN, external ID, duration) on top of keys or the delegate's role.
    case assumeRole = "assume_role"
    /// OIDC: STS AssumeRoleWithWebIdentity with a token file or a token the manager sends.
    case oidc

    static func parse(_ text: String) throws -> AWSCredentialType {
        let t = text.lowercased().replacingOccurrences(of: "-", with: "_")
        switch t {
        case "access_key", "accesskey", "access_keys", "keys", "manual": return .accessKey
        case "delegate_role", "iam_role", "iam", "inherit_from_delegate", "instance_role": return .delegateRole
        case "assume_role", "sts", "assume_iam_role_sts", "assumerole": return .assumeRole
        case "oidc", "web_identity", "webidentity": return .oidc
        default:
            throw ProviderError.configuration(
                "invalid_credential_type",
                "credentialType '\(text)' is not one of \(AWSCredentialType.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
    }
}

/// The settings every AWS connector shares, parsed and checked once.
struct AWSConnectorSettings: Sendable {
    var region: String
    var fips: Bool
    var credentialType: AWSCredentialType
    var timeout: Duration
    var dataKeyCacheEnabled: Bool
    var dataKeyCacheEntries: Int
    var dataKeyCacheTTLSeconds: Int

    init(_ d: ConnectorDescriptor) throws {
        let region = try d.require("region")
        guard region.range(of: "^[a-z]{2}(-[a-z]+)+-[0-9]+$", options: .regularExpression) != nil else {
            throw ProviderError.configuration("invalid_region", "'\(region)' is not an AWS region name (e.g. eu-west-1).")
        }
        self.region = region
        self.fips = try Self.bool(d, "useFipsEndpoint", default: false)
        if let t = d.setting("credentialType") {
            self.credentialType = try AWSCredentialType.parse(t)
        } else {
            self.credentialType = d.credentials["accessKeyId"] != nil ? .accessKey : .delegateRole
        }
        self.timeout = .seconds(try Self.int(d, "requestTimeoutSeconds", default: 10, range: 1...300))
        self.dataKeyCacheEnabled = try Self.bool(d, "dataKeyCache", default: true)
        self.dataKeyCacheEntries = try Self.int(d, "dataKeyCacheEntries", default: 1000, range: 1...1_000_000)
        self.dataKeyCacheTTLSeconds = try Self.int(d, "dataKeyCacheTtlSeconds", default: 300, range: 1...86_400)
    }

    static func bool(_ d: ConnectorDescriptor, _ key: String, default value: Bool) throws -> Bool {
        guard let v = d.setting(key)?.lowercased() else { return value }
        switch v {
        case "true", "on", "yes", "1": return true
        case "false", "off", "no", "0": return false
        default: throw ProviderError.configuration("invalid_setting", "Setting '\(key)' is '\(v)'; use true or false.")
        }
    }

    static func int(_ d: ConnectorDescriptor, _ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let v = d.setting(key) else { return value }
        guard let n = Int(v), range.contains(n) else {
            throw ProviderError.configuration("invalid_setting", "Setting '\(key)' is '\(v)'; use a whole number in \(range.lowerBound)–\(range.upperBound).")
        }
        return n
    }

    /// The credential source for this connector, cached so temporary credentials are fetched once
    /// per lifetime.
    func credentialProvider(_ d: ConnectorDescriptor, context: ProviderContext) throws -> any AWSCredentialProvider {
        let env = context.environment
        let transport = context.transport
        let sts = try AWSEndpoint.url(service: "sts", region: region, custom: d.setting("stsEndpoint"), fips: fips)
        let sessionName = d.setting("sessionName") ?? String("legate-\(d.id)".prefix(64))
        switch credentialType {
        case .accessKey:
            return try Self.accessKeys(d)
        case .delegateRole:
            return CachingCredentialProvider(Self.delegateChain(env: env, transport: transport, region: region, sts: sts), logger: context.logger)
        case .assumeRole:
            let duration = try Self.int(d, "durationSeconds", default: 3600, range: Int.min...Int.max)
            // AssumeRoleSettings checks the range and says so in STS's terms.
            let settings = try AssumeRoleSettings(
                roleArn: try d.require("roleArn"), sessionName: sessionName, externalId: d.setting("externalId"), durationSeconds: duration)
            let base: any AWSCredentialProvider
            if d.credentials["accessKeyId"] != nil {
                base = try Self.accessKeys(d)
            } else {
                base = CachingCredentialProvider(Self.delegateChain(env: env, transport: transport, region: region, sts: sts), logger: context.logger)
            }
            return CachingCredentialProvider(
                AssumeRoleCredentialProvider(
                    settings: settings, base: base, region: region, stsEndpoint: sts, transport: transport, timeout: timeout),
                logger: context.logger)
        case .oidc:
            let roleArn = try d.require("roleArn")
            _ = try AssumeRoleSettings(roleArn: roleArn, sessionName: sessionName)
            let token: WebIdentityCredentialProvider.TokenSource
            if let t = d.credentials["webIdentityToken"], !t.isEmpty {
                token = .value(t)
            } else if let file = d.setting("webIdentityTokenFile") ?? env["AWS_WEB_IDENTITY_TOKEN_FILE"] {
                token = .file(file)
            } else {
                throw ProviderError.configuration(
                    "missing_web_identity_token",
                    "Connector \(d.id) uses OIDC but has no token: set webIdentityTokenFile, the webIdentityToken credential, or AWS_WEB_IDENTITY_TOKEN_FILE on the delegate.")
            }
            let duration = try d.setting("durationSeconds").map { _ in
                try AssumeRoleSettings(roleArn: roleArn, durationSeconds: try Self.int(d, "durationSeconds", default: 3600, range: Int.min...Int.max))
                    .durationSeconds
            }
            return CachingCredentialProvider(
                WebIdentityCredentialProvider(
                    roleArn: roleArn, sessionName: sessionName, durationSeconds: duration, token: token, region: region, stsEndpoint: sts,
                    transport: transport, timeout: timeout),
                logger: context.logger)
        }
    }

    static func accessKeys(_ d: ConnectorDescriptor) throws -> StaticCredentialProvider {
        let id = try d.requireCredential("accessKeyId").withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let secret = try d.requireCredential("secretAccessKey").withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let token = d.credentials["sessionToken"].map {
            $0.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return StaticCredentialProvider(AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token))
    }

    /// The SDKs' default order for a host's own identity.
    static func delegateChain(env: [String: String], transport: any HTTPTransport, region: String, sts: String) -> CredentialProviderChain {
        CredentialProviderChain([
            EnvironmentCredentialProvider(environment: env),
            EnvironmentWebIdentityProvider(environment: env, transport: transport, region: region, sts: sts),
            ContainerCredentialProvider(environment: env, transport: transport),
            InstanceMetadataCredentialProvider(environment: env, transport: transport),
        ])
    }
}

/// EKS IRSA: `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` (+ `AWS_ROLE_SESSION_NAME`) in the
/// delegate's environment.
struct EnvironmentWebIdentityProvider: AWSCredentialProvider {
    let environment: [String: String]
    let transport: any HTTPTransport
    let region: String
    let sts: String
    var route: String { "web identity from the environment (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)" }

    func credentials() async throws -> AWSCredentials {
        guard let role = environment["AWS_ROLE_ARN"], !role.isEmpty, let file = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], !file.isEmpty else {
            throw CredentialSourceAbsent(reason: "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are not both set")
        }
        let session = environment["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "legate"
        return try await WebIdentityCredentialProvider(
            roleArn: role, sessionName: session, token: .file(file), region: region, stsEndpoint: sts, transport: transport
        ).credentials()
    }
}

/// Registers the AWS connector types. Only executables call this, so drivers stay independent.
public enum AWSDrivers {
    public static func register(in registry: inout ProviderRegistry) {
        registry.register(AWSKMSKeyManager.type) { d, ctx in
            let settings = try AWSConnectorSettings(d)
            return .keyManager(try AWSKMSKeyManager(descriptor: d, settings: settings, credentials: try settings.credentialProvider(d, context: ctx), context: ctx))
        }
        registry.register(AWSSecretsManagerStore.type) { d, ctx in
            let settings = try AWSConnectorSettings(d)
            return .secretStore(
                try AWSSecretsManagerStore(descriptor: d, settings: settings, credentials: try settings.credentialProvider(d, context: ctx), context: ctx))
        }
    }
}
