import LegateCore

/// Why an envelope (or a built-in wrapped data key) could not be built, parsed or opened.
///
/// Each case has its own stable ``code``. Messages name the part of the format that is wrong and
/// what to do, and never contain plaintext, key bytes or field contents read from a corrupt
/// record — only lengths, version numbers and the identity the caller supplied.
public enum EnvelopeError: LegateError, Equatable {
    /// A named region of the envelope or wrapped-key format, used to say where a problem is.
    public enum Part: String, Sendable, Equatable {
        case magic = "magic bytes"
        case formatVersion = "format version"
        case connectorIdLength = "connector id length"
        case connectorId = "connector id"
        case keyRefLength = "key reference length"
        case keyRef = "key reference"
        case keyVersion = "key version"
        case wrappedKeyLength = "wrapped data key length"
        case wrappedKey = "wrapped data key"
        case nonce = "nonce"
        case tag = "authentication tag"
    }

    /// The input ends before `part` is complete: `needed` bytes were required, `available` were
    /// left. A cut-off record, or not the whole value was stored.
    case truncated(part: Part, needed: Int, available: Int)
    /// The input does not start with the envelope magic `LGE`: it is not a Legate envelope at all
    /// (plaintext stored by mistake, another product's format, the wrong column).
    case notAnEnvelope
    /// The magic is right but the format version byte is one this build does not understand.
    case unsupportedFormatVersion(UInt8)
    /// A length-prefixed field is longer than the format allows (or its prefix claims so).
    case fieldTooLong(part: Part, length: Int, limit: Int)
    /// A field has an impossible value: empty where one is required, not UTF-8, wrong size.
    case invalidField(part: Part, reason: String)
    /// AES-GCM authentication failed while opening as `identity`. GCM cannot tell which input
    /// differs, so this covers tampered ciphertext or tag, a swapped or edited header, the wrong
    /// identity and the wrong data key.
    case authenticationFailed(identity: SecretIdentity)
    /// The data key is not 256 bits.
    case wrongDataKeySize(bytes: Int)
    /// The built-in provider's key-encryption key is not 256 bits.
    case wrongKeyEncryptionKeySize(bytes: Int)
    /// A built-in wrapped data key does not have the fixed wrapped length.
    case invalidWrappedKey(length: Int, expected: Int)
    /// Unwrapping a built-in data key failed authentication.
    case unwrapFailed(identity: SecretIdentity, keyRef: String, keyVersion: UInt32)
    /// The text form is not valid base64.
    case invalidText
    /// The crypto library refused an operation on well-formed input (should not happen).
    case cryptoFailure(operation: String)

    public var code: String {
        switch self {
        case .truncated: "envelope_truncated"
        case .notAnEnvelope: "envelope_bad_magic"
        case .unsupportedFormatVersion: "envelope_unsupported_version"
        case .fieldTooLong: "envelope_field_too_long"
        case .invalidField: "envelope_invalid_field"
        case .authenticationFailed: "envelope_authentication_failed"
        case .wrongDataKeySize: "envelope_wrong_key_size"
        case .wrongKeyEncryptionKeySize: "key_wrap_wrong_kek_size"
        case .invalidWrappedKey: "key_wrap_invalid_length"
        case .unwrapFailed: "key_unwrap_failed"
        case .invalidText: "envelope_invalid_text"
        case .cryptoFailure: "envelope_crypto_failure"
        }
    }

    public var message: String {
        switch self {
        case let .truncated(part, needed, available):
            "The envelope is truncated: the \(part.rawValue) needs \(needed) bytes but only \(available) remain. "
                + "The stored record is incomplete; restore it from a backup or store the secret again."
        case .notAnEnvelope:
            "The data is not a Legate envelope (it does not start with the magic bytes \"LGE\"). "
                + "Check that the record holds an encrypted value and not plaintext or another format."
        case let .unsupportedFormatVersion(version):
            "The envelope uses format version \(version), which this build does not support "
                + "(it reads version \(EnvelopeHeader.currentFormatVersion)). Upgrade the delegate, "
                + "or re-encrypt the secret with a delegate that writes version \(EnvelopeHeader.currentFormatVersion)."
        case let .fieldTooLong(part, length, limit):
            "The envelope's \(part.rawValue) is \(length) bytes, more than the limit of \(limit). "
                + "Use a shorter value, or if this came from storage the record is corrupt."
        case let .invalidField(part, reason):
            "The envelope's \(part.rawValue) \(reason)."
        case let .authenticationFailed(identity):
            "Cannot open the envelope as \(identity): the ciphertext, its header or the secret identity "
                + "(scope/name/version) does not match, or the data key is wrong. The record was altered, "
                + "copied from another secret or version, or unwrapped with the wrong key."
        case let .wrongDataKeySize(bytes):
            "The data key is \(bytes) bytes; AES-256-GCM needs a 32-byte key. "
                + "The key manager returned a key of the wrong size."
        case let .wrongKeyEncryptionKeySize(bytes):
            "The built-in key-encryption key is \(bytes) bytes; it must be exactly 32 bytes. "
                + "Check the key file given to the delegate."
        case let .invalidWrappedKey(length, expected):
            "The wrapped data key is \(length) bytes; the built-in provider writes exactly \(expected). "
                + "The envelope was made by another key manager or its header is corrupt."
        case let .unwrapFailed(identity, keyRef, keyVersion):
            "Cannot unwrap the data key for \(identity) with key \(String(reflecting: keyRef)) version \(keyVersion): "
                + "the key-encryption key, the key reference/version or the secret identity does not match. "
                + "Check that this delegate has the same key file as the one that encrypted the secret."
        case .invalidText:
            "The envelope text is not valid base64; the stored value was cut or edited."
        case let .cryptoFailure(operation):
            "The crypto library failed to \(operation). This is a bug or a broken build; please report it."
        }
    }

    /// Every case is about data or keys someone has to fix; the crypto library is local code,
    /// not a peer, so even ``cryptoFailure(operation:)`` counts as configuration.
    public var origin: ErrorOrigin { .configuration }

    /// Retrying the same bytes with the same key gives the same answer.
    public var persistence: ErrorPersistence { .permanent }
}
