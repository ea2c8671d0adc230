import Crypto
import Foundation
import KeyProviders
import LegateCrypto

/// Vault Transit as a key manager: Transit generates and wraps each secret's data key
/// (`datakey/plaintext`), unwraps it (`decrypt`) and re-wraps it under the newest key version
/// (`rewrap`) without the data key leaving Vault. The value is sealed locally. The key version is
/// the one in Transit's ciphertext (`vault:vN:`), so rotation shows in the envelope header.
public struct VaultTransitKeyManager: KeyManager {
    let client: VaultClient
    let mount: String
    let keyName: String
    /// For keys created with `derived=true`: the secret identity is the derivation context.
    let derived: Bool

    init(client: VaultClient, mount: String, keyName: String, derived: Bool) {
        self.client = client
        self.mount = mount.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.keyName = keyName
        self.derived = derived
    }

    var subject: String { "Transit key '\(keyName)' at \(mount)/" }

    func context(_ identity: SecretIdentity) -> [String: Any] {
        derived ? ["context": Data(identity.encoded()).base64EncodedString()] : [:]
    }

    static func version(of ciphertext: String) -> UInt32 {
        let parts = ciphertext.split(separator: ":")
        guard parts.count >= 3, parts[0] == "vault", parts[1].hasPrefix("v"), let v = UInt32(parts[1].dropFirst()) else { return 0 }
        return v
    }

    public func generateDataKey(for identity: SecretIdentity) async throws -> GeneratedDataKey {
        var body = context(identity)
        body["bits"] = 256
        let out = try await client.call("POST", "\(mount)/datakey/plaintext/\(keyName)", body: body, what: "datakey from \(subject)")
        let data = out["data"] as? [String: Any] ?? [:]
        guard let ciphertext = data["ciphertext"] as? String, let b64 = data["plaintext"] as? String, let raw = Data(base64Encoded: b64), raw.count == 32 else {
            throw ProviderError.transient("vault_bad_response", "Vault answered the datakey request of \(subject) without a 256-bit key.")
        }
        let version = (data["key_version"] as? NSNumber).map { UInt32($0.intValue) } ?? Self.version(of: ciphertext)
        return GeneratedDataKey(key: SymmetricKey(data: raw), wrapped: WrappedDataKey(keyRef: keyName, keyVersion: version, wrapped: Array(ciphertext.utf8)))
    }

    public func unwrapDataKey(_ w: WrappedDataKey, for identity: SecretIdentity) async throws -> SymmetricKey {
        var body = context(identity)
        body["ciphertext"] = String(decoding: w.wrapped, as: UTF8.self)
        let out: [String: Any]
        do {
            out = try await client.call("POST", "\(mount)/decrypt/\(w.keyRef)", body: body, what: "decrypt with \(subject)")
        } catch let e as ProviderError where e.code == "vault_invalid_request" {
            throw ProviderError.permanent(
                "vault_invalid_ciphertext",
                "Transit could not decrypt the data key with key '\(w.keyRef)' version \(w.keyVersion): \(e.message) The key version may have been trimmed (min_decryption_version) or the envelope was tampered with.")
        }
        guard let b64 = (out["data"] as? [String: Any])?["plaintext"] as? String, let raw = Data(base64Encoded: b64), raw.count == 32 else {
            throw ProviderError.permanent("vault_bad_data_key", "Transit returned no 256-bit data key for \(subject).")
        }
        return SymmetricKey(data: raw)
    }

    public func rewrapDataKey(_ w: WrappedDataKey, for identity: SecretIdentity) async throws -> WrappedDataKey {
        var body = context(identity)
        body["ciphertext"] = String(decoding: w.wrapped, as: UTF8.self)
        let out = try await client.call("POST", "\(mount)/rewrap/\(w.keyRef)", body: body, what: "rewrap with \(subject)")
        guard let ciphertext = (out["data"] as? [String: Any])?["ciphertext"] as? String else {
            throw ProviderError.transient("vault_bad_response", "Vault answered the rewrap of \(subject) without a ciphertext.")
        }
        return WrappedDataKey(keyRef: w.keyRef, keyVersion: Self.version(of: ciphertext), wrapped: Array(ciphertext.utf8))
    }

    public func validate() async throws -> ValidationReport {
        var checks: [String] = []
        if let auth = client.auth { checks.append("auth: \(await auth.methodDescription)") }
        let out = try await client.call("GET", "\(mount)/keys/\(keyName)", what: "read of \(subject)")
        let data = out["data"] as? [String: Any] ?? [:]
        checks.append("key '\(keyName)': type \(data["type"] as? String ?? "?"), latest version \((data["latest_version"] as? NSNumber)?.intValue ?? 0)")
        let probe = SecretIdentity(scope: "validate", name: "probe", version: 1)
        let g = try await generateDataKey(for: probe)
        guard try await unwrapDataKey(g.wrapped, for: probe) == g.key else {
            throw ProviderError.permanent("vault_roundtrip_failed", "A data key from \(subject) did not decrypt to the same key.")
        }
        checks.append("datakey/decrypt round trip: ok")
        if let ns = client.namespace { checks.append("namespace \(ns)") }
        return ValidationReport(ok: true, checks: checks, route: await client.auth?.methodDescription)
    }
}
