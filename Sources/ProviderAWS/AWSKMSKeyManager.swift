import Crypto
import Foundation
import KeyProviders
import LegateCrypto
import Logging

/// Envelope encryption with AWS KMS: KMS generates and wraps each secret's data key under the
/// connector's key; the value is sealed locally and never sent to AWS. The secret's identity is the
/// KMS encryption context, so a wrapped key only unwraps for the same scope, name and version.
/// Unwrapped data keys are cached on the delegate (bounded, TTL) unless the connector turns it off.
public struct AWSKMSKeyManager: KeyManager {
    public static let type = "awskms"
    let connectorId: String
    let keyId: String
    let region: String
    let client: AWSClient
    let cache: DataKeyCache
    /// Generate data keys locally and wrap them with KMS Encrypt, instead of GenerateDataKey.
    let localDataKeys: Bool
    let credentialRoute: @Sendable () async -> String
    let cacheDescription: String

    init(descriptor d: ConnectorDescriptor, settings: AWSConnectorSettings, credentials: any AWSCredentialProvider, context: ProviderContext) throws {
        self.connectorId = d.id
        self.keyId = try d.require("keyId")
        self.region = settings.region
        self.client = AWSClient(
            service: "kms", region: settings.region,
            endpoint: try AWSEndpoint.url(service: "kms", region: settings.region, custom: d.setting("endpoint"), fips: settings.fips),
            credentials: credentials, transport: context.transport, timeout: settings.timeout)
        self.cache = DataKeyCache(
            capacity: settings.dataKeyCacheEnabled ? settings.dataKeyCacheEntries : 0, timeToLive: .seconds(settings.dataKeyCacheTTLSeconds))
        self.cacheDescription = settings.dataKeyCacheEnabled
            ? "on (\(settings.dataKeyCacheEntries) entries, TTL \(settings.dataKeyCacheTTLSeconds) s)" : "off"
        switch d.setting("dataKeyGeneration")?.lowercased() ?? "kms" {
        case "kms": self.localDataKeys = false
        case "local": self.localDataKeys = true
        case let other:
            throw ProviderError.configuration("invalid_setting", "dataKeyGeneration '\(other)' is not one of kms, local.")
        }
        self.credentialRoute = { await Self.describeRoute(credentials) }
    }

    static func describeRoute(_ p: any AWSCredentialProvider) async -> String { await p.activeRoute }

    static func encryptionContext(_ identity: SecretIdentity) -> [String: String] {
        ["legate:scope": identity.scope, "legate:name": identity.name, "legate:version": String(identity.version)]
    }

    var subject: String { "KMS key \(keyId) in \(region)" }

    static func decodeBase64(_ value: Any?, what: String) throws -> [UInt8] {
        guard let text = value as? String, let data = Data(base64Encoded: text) else {
            throw ProviderError.transient("aws_bad_response", "KMS answered without a valid \(what).")
        }
        return Array(data)
    }

    static func symmetricKey(_ value: Any?) throws -> SymmetricKey {
        let bytes = try decodeBase64(value, what: "Plaintext")
        guard bytes.count == 32 else {
            throw ProviderError.permanent("aws_bad_data_key", "KMS returned a \(bytes.count)-byte data key; expected 32 (AES_256).")
        }
        return SymmetricKey(data: bytes)
    }

    public func generateDataKey(for identity: SecretIdentity) async throws -> GeneratedDataKey {
        let context = Self.encryptionContext(identity)
        if localDataKeys {
            let key = DataKey.generate()
            let plaintext = key.withUnsafeBytes { Data($0).base64EncodedString() }
            let out = try await client.json(
                targetPrefix: "TrentService", action: "Encrypt",
                body: ["KeyId": keyId, "Plaintext": plaintext, "EncryptionContext": context], subject: subject)
            let blob = try Self.decodeBase64(out["CiphertextBlob"], what: "CiphertextBlob")
            return GeneratedDataKey(key: key, wrapped: WrappedDataKey(keyRef: out["KeyId"] as? String ?? keyId, keyVersion: 1, wrapped: blob))
        }
        let out = try await client.json(
            targetPrefix: "TrentService", action: "GenerateDataKey",
            body: ["KeyId": keyId, "KeySpec": "AES_256", "EncryptionContext": context], subject: subject)
        let key = try Self.symmetricKey(out["Plaintext"])
        let blob = try Self.decodeBase64(out["CiphertextBlob"], what: "CiphertextBlob")
        // KMS names the key by ARN; unwrapping later uses that ARN even if the alias moves.
        return GeneratedDataKey(key: key, wrapped: WrappedDataKey(keyRef: out["KeyId"] as? String ?? keyId, keyVersion: 1, wrapped: blob))
    }

    public func unwrapDataKey(_ w: WrappedDataKey, for identity: SecretIdentity) async throws -> SymmetricKey {
        let cacheKey = DataKeyCache.Key(connectorId: connectorId, keyRef: w.keyRef + "|" + identity.cacheTag, keyVersion: w.keyVersion, wrappedKey: w.wrapped)
        let client = self.client
        let subject = "KMS key \(w.keyRef) in \(region)"
        return try await cache.dataKey(for: cacheKey) { () async throws -> SymmetricKey in
            let out = try await client.json(
                targetPrefix: "TrentService", action: "Decrypt",
                body: [
                    "CiphertextBlob": Data(w.wrapped).base64EncodedString(), "KeyId": w.keyRef,
                    "EncryptionContext": Self.encryptionContext(identity),
                ], subject: subject)
            return try Self.symmetricKey(out["Plaintext"])
        }
    }

    /// ReEncrypt under the connector's current key (KMS rotates key material itself; this also
    /// moves data keys to a new key when the connector's keyId changed). The data key never
    /// leaves KMS in the clear.
    public func rewrapDataKey(_ w: WrappedDataKey, for identity: SecretIdentity) async throws -> WrappedDataKey {
        let context = Self.encryptionContext(identity)
        let out = try await client.json(
            targetPrefix: "TrentService", action: "ReEncrypt",
            body: [
                "CiphertextBlob": Data(w.wrapped).base64EncodedString(), "SourceKeyId": w.keyRef, "DestinationKeyId": keyId,
                "SourceEncryptionContext": context, "DestinationEncryptionContext": context,
            ], subject: subject)
        let blob = try Self.decodeBase64(out["CiphertextBlob"], what: "CiphertextBlob")
        return WrappedDataKey(keyRef: out["KeyId"] as? String ?? keyId, keyVersion: w.keyVersion, wrapped: blob)
    }

    public func validate() async throws -> ValidationReport {
        var checks: [String] = []
        let described = try await client.json(targetPrefix: "TrentService", action: "DescribeKey", body: ["KeyId": keyId], subject: subject)
        let route = await credentialRoute()
        checks.append("credentials: \(route)")
        if let meta = described["KeyMetadata"] as? [String: Any] {
            let state = meta["KeyState"] as? String ?? "unknown"
            // Some KMS implementations (moto) omit KeyUsage; KeySpec tells the same.
            let usage = meta["KeyUsage"] as? String
            let spec = meta["KeySpec"] as? String ?? meta["CustomerMasterKeySpec"] as? String
            checks.append("key \(meta["Arn"] as? String ?? keyId): state \(state), usage \(usage ?? "-"), spec \(spec ?? "-")")
            guard state == "Enabled" else {
                throw ProviderError.permanent("aws_key_disabled", "\(subject) is \(state); enable it in KMS.")
            }
            guard usage == nil || usage == "ENCRYPT_DECRYPT", spec == nil || spec == "SYMMETRIC_DEFAULT" else {
                throw ProviderError.configuration(
                    "aws_key_usage",
                    "\(subject) has usage \(usage ?? "-") and spec \(spec ?? "-"); envelope encryption needs a symmetric ENCRYPT_DECRYPT key (SYMMETRIC_DEFAULT).")
            }
        }
        let probe = SecretIdentity(scope: "validate", name: "probe", version: 1)
        let generated = try await generateDataKey(for: probe)
        let out = try await client.json(
            targetPrefix: "TrentService", action: "Decrypt",
            body: [
                "CiphertextBlob": Data(generated.wrapped.wrapped).base64EncodedString(), "KeyId": generated.wrapped.keyRef,
                "EncryptionContext": Self.encryptionContext(probe),
            ], subject: subject)
        guard try Self.symmetricKey(out["Plaintext"]) == generated.key else {
            throw ProviderError.permanent("aws_roundtrip_failed", "A data key generated by \(subject) did not decrypt to the same key.")
        }
        checks.append("\(localDataKeys ? "Encrypt" : "GenerateDataKey")/Decrypt round trip with encryption context: ok")
        checks.append("data-key cache: \(cacheDescription)")
        return ValidationReport(ok: true, checks: checks, route: route)
    }
}

extension SecretIdentity {
    /// Distinguishes cache entries of the same wrapped key under another identity: KMS would
    /// refuse those (encryption context), so the cache must not answer them either.
    var cacheTag: String { "\(scope)\u{0}\(name)\u{0}\(version)" }
}
