import Crypto
import Foundation
import LegateCore
import LegateWire

/// Delegate tokens, admin API keys and session tokens.
///
/// Long-lived tokens look like `lgt_<id>.<secret>` (delegate) or `lak_<id>.<secret>` (admin). Only a
/// SHA-256 of the secret is stored, so the database never holds a usable token. Session tokens are
/// HMAC-SHA256 signed (`lst_<payload>.<mac>`) with a key kept in the state directory, so they survive
/// a manager restart and need no database lookup beyond the revocation check.
public struct Credentials: Sendable {
    public enum Kind: String, Sendable {
        case delegate
        case admin

        var prefix: String { self == .delegate ? "lgt_" : "lak_" }
    }

    public struct Issued: Sendable {
        public var id: String
        public var token: Redacted<String>
        public var hash: String
    }

    /// What a valid session token proves.
    public struct Session: Sendable, Equatable {
        public var delegateId: String
        public var tokenId: String
        public var expiresAt: Date
    }

    private let signingKey: SymmetricKey

    public init(signingKey: [UInt8]) {
        self.signingKey = SymmetricKey(data: signingKey)
    }

    /// Loads the session signing key from `<state>/session.key`, creating it (0600) on first start.
    public static func load(stateDirectory: String) throws -> Credentials {
        let path = stateDirectory + "/session.key"
        if let data = FileManager.default.contents(atPath: path), data.count == 32 {
            return Credentials(signingKey: Array(data))
        }
        let key = Identifiers.randomBytes(32)
        try FileIO.write(Data(key), to: path, mode: 0o600)
        return Credentials(signingKey: key)
    }

    public static func issue(kind: Kind) -> Issued {
        let id = Identifiers.make(prefix: kind == .delegate ? "tok_" : "key_")
        let secret = Identifiers.base64URL(Identifiers.randomBytes(32))
        return Issued(id: id, token: Redacted(kind.prefix + id + "." + secret), hash: hash(secret))
    }

    static func hash(_ secret: String) -> String {
        Identifiers.hex(bytes: SHA256.hash(data: Array(secret.utf8)))
    }

    /// Splits a presented token into (id, secret) if it has the expected shape.
    public static func parse(_ presented: String, kind: Kind) -> (id: String, secret: String)? {
        guard presented.hasPrefix(kind.prefix) else { return nil }
        let rest = presented.dropFirst(kind.prefix.count)
        guard let dot = rest.firstIndex(of: "."), dot != rest.startIndex else { return nil }
        let id = String(rest[rest.startIndex..<dot])
        let secret = String(rest[rest.index(after: dot)...])
        guard !secret.isEmpty, id.count <= 64 else { return nil }
        return (id, secret)
    }

    /// Constant-time comparison of the presented secret against the stored hash.
    public static func matches(secret: String, storedHash: String) -> Bool {
        let a = Array(hash(secret).utf8)
        let b = Array(storedHash.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    // MARK: Session tokens

    private struct Payload: Codable {
        var d: String
        var t: String
        var e: Int64
    }

    public func sessionToken(delegateId: String, tokenId: String, expiresAt: Date) -> String {
        let payload = Payload(d: delegateId, t: tokenId, e: Int64(expiresAt.timeIntervalSince1970))
        let body = Identifiers.base64URL((try? JSONEncoder().encode(payload)) ?? Data())
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: signingKey)
        return "lst_" + body + "." + Identifiers.base64URL(mac)
    }

    public enum SessionFailure: Error, Equatable {
        case malformed
        case badSignature
        case expired
    }

    public func verifySession(_ token: String, now: Date) -> Result<Session, SessionFailure> {
        guard token.hasPrefix("lst_") else { return .failure(.malformed) }
        let parts = token.dropFirst(4).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Identifiers.decodeBase64URL(String(parts[1])),
            let payloadBytes = Identifiers.decodeBase64URL(String(parts[0]))
        else { return .failure(.malformed) }
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array(parts[0].utf8), using: signingKey) else {
            return .failure(.badSignature)
        }
        guard let payload = try? JSONDecoder().decode(Payload.self, from: Data(payloadBytes)) else {
            return .failure(.malformed)
        }
        let expires = Date(timeIntervalSince1970: Double(payload.e))
        guard expires > now else { return .failure(.expired) }
        return .success(Session(delegateId: payload.d, tokenId: payload.t, expiresAt: expires))
    }
}
