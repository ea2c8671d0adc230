import Crypto
import Foundation
import KeyProviders
import LegateCrypto

/// AWS Secrets Manager as a secret store: the value lives in AWS, the manager keeps the name.
/// Text secrets are stored as SecretString, file secrets as SecretBinary. Writes carry a
/// ClientRequestToken derived from the caller's idempotency token (task and secret version), so
/// a retried write is not applied twice.
public struct AWSSecretsManagerStore: SecretStore {
    public static let type = "awssecretsmanager"
    let client: AWSClient
    let region: String
    /// Prepended to every path (e.g. `legate/`), so one connector owns one namespace.
    let prefix: String
    let kmsKeyId: String?
    /// 0 = delete at once; 7–30 = AWS keeps it that many days and a re-create restores it.
    let recoveryWindowDays: Int
    let readOnly: Bool
    let credentials: any AWSCredentialProvider

    init(descriptor d: ConnectorDescriptor, settings: AWSConnectorSettings, credentials: any AWSCredentialProvider, context: ProviderContext) throws {
        self.region = settings.region
        self.client = AWSClient(
            service: "secretsmanager", region: settings.region,
            endpoint: try AWSEndpoint.url(service: "secretsmanager", region: settings.region, custom: d.setting("endpoint"), fips: settings.fips),
            credentials: credentials, transport: context.transport, timeout: settings.timeout)
        self.prefix = d.setting("secretPrefix") ?? ""
        self.kmsKeyId = d.setting("kmsKeyId")
        let window = try AWSConnectorSettings.int(d, "recoveryWindowDays", default: 0, range: 0...30)
        guard window == 0 || window >= 7 else {
            throw ProviderError.configuration("invalid_setting", "recoveryWindowDays must be 0 (delete at once) or 7–30.")
        }
        self.recoveryWindowDays = window
        self.readOnly = try AWSConnectorSettings.bool(d, "readOnly", default: false)
        self.credentials = credentials
    }

    func secretId(_ path: String) -> String { prefix + path }
    func subject(_ path: String) -> String { "Secrets Manager secret '\(secretId(path))' in \(region)" }

    public func get(_ path: String, version: String?) async throws -> SecretBytes {
        var body: [String: Any] = ["SecretId": secretId(path)]
        if let version { body["VersionId"] = version }
        let out = try await client.json(targetPrefix: "secretsmanager", action: "GetSecretValue", body: body, subject: subject(path))
        if let text = out["SecretString"] as? String { return SecretBytes(utf8: text) }
        if let b64 = out["SecretBinary"] as? String, let data = Data(base64Encoded: b64) { return SecretBytes(data) }
        throw ProviderError.permanent("aws_empty_secret", "\(subject(path)) has no value (neither SecretString nor SecretBinary).")
    }

    /// A ClientRequestToken (32–64 characters) derived from the caller's idempotency token.
    static func requestToken(_ token: String?) -> String {
        let source = token ?? UUID().uuidString
        let digest = SHA256.hash(data: Array(source.utf8))
        return "legate-" + digest.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    func valueFields(_ value: SecretBytes, binary: Bool) -> [String: Any] {
        if !binary, let text = value.withUnsafeBytes({ String(validating: $0, as: UTF8.self) }) {
            return ["SecretString": text]
        }
        return ["SecretBinary": value.withUnsafeBytes { Data($0).base64EncodedString() }]
    }

    public func put(_ path: String, value: SecretBytes, options: StoreWriteOptions) async throws -> String? {
        guard !readOnly else {
            throw ProviderError.configuration("read_only_connector", "The connector is read-only; \(subject(path)) was not written.")
        }
        let token = Self.requestToken(options.idempotencyToken)
        var body = valueFields(value, binary: options.binary)
        body["SecretId"] = secretId(path)
        body["ClientRequestToken"] = token
        do {
            let out = try await client.json(targetPrefix: "secretsmanager", action: "PutSecretValue", body: body, subject: subject(path))
            return out["VersionId"] as? String
        } catch let e as ProviderError where e.code == "aws_not_found" {
            var create = valueFields(value, binary: options.binary)
            create["Name"] = secretId(path)
            create["ClientRequestToken"] = token
            create["Description"] = "Managed by Legate"
            if let kmsKeyId { create["KmsKeyId"] = kmsKeyId }
            let out = try await client.json(targetPrefix: "secretsmanager", action: "CreateSecret", body: create, subject: subject(path))
            return out["VersionId"] as? String
        } catch let e as ProviderError where e.code == "aws_invalid_request" && e.message.lowercased().contains("deletion") {
            // Scheduled for deletion (recovery window): bring it back, then write.
            _ = try await client.json(targetPrefix: "secretsmanager", action: "RestoreSecret", body: ["SecretId": secretId(path)], subject: subject(path))
            let out = try await client.json(targetPrefix: "secretsmanager", action: "PutSecretValue", body: body, subject: subject(path))
            return out["VersionId"] as? String
        }
    }

    public func delete(_ path: String) async throws {
        guard !readOnly else {
            throw ProviderError.configuration("read_only_connector", "The connector is read-only; \(subject(path)) was not deleted.")
        }
        var body: [String: Any] = ["SecretId": secretId(path)]
        if recoveryWindowDays == 0 { body["ForceDeleteWithoutRecovery"] = true } else { body["RecoveryWindowInDays"] = recoveryWindowDays }
        do {
            _ = try await client.json(targetPrefix: "secretsmanager", action: "DeleteSecret", body: body, subject: subject(path))
        } catch let e as ProviderError where e.code == "aws_not_found" {
            return
        }
    }

    public func validate() async throws -> ValidationReport {
        var body: [String: Any] = ["MaxResults": 1]
        if !prefix.isEmpty { body["Filters"] = [["Key": "name", "Values": [prefix]]] }
        _ = try await client.json(targetPrefix: "secretsmanager", action: "ListSecrets", body: body, subject: "Secrets Manager in \(region)")
        let route = await AWSKMSKeyManager.describeRoute(credentials)
        return ValidationReport(
            ok: true,
            checks: ["credentials: \(route)", "ListSecrets\(prefix.isEmpty ? "" : " under '\(prefix)'") in \(region): ok", readOnly ? "read-only connector" : "read-write connector"],
            route: route)
    }
}
