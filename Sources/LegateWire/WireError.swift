import LegateCore

/// The error body every endpoint returns on failure: `{"error": {"code": "...", "message": "..."}}`.
public struct ErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
    }
    public var error: Detail

    public init(code: String, message: String) {
        self.error = Detail(code: code, message: message)
    }
}

/// Errors in parsing or validating protocol messages.
public enum WireError: LegateError, Equatable {
    case malformed(what: String, detail: String)
    case unknownMessageType(String)
    case unsupportedVersion(Int)
    case payloadTooLarge(what: String, size: Int, limit: Int)
    case invalidField(what: String, field: String, reason: String)

    public var code: String {
        switch self {
        case .malformed: "bad_request"
        case .unknownMessageType: "unknown_message_type"
        case .unsupportedVersion: "unsupported_protocol_version"
        case .payloadTooLarge: "payload_too_large"
        case .invalidField: "invalid_field"
        }
    }

    public var message: String {
        switch self {
        case .malformed(let what, let detail):
            "Malformed \(what): \(detail). Send a JSON object as described in docs/protocol.md."
        case .unknownMessageType(let type):
            "Unknown message type '\(type)'. This peer speaks protocol v\(WireProtocol.version); check that agent and manager versions are compatible."
        case .unsupportedVersion(let v):
            "Protocol version \(v) is not supported; this peer speaks v\(WireProtocol.version). Upgrade the older side."
        case .payloadTooLarge(let what, let size, let limit):
            "\(what) is \(size) bytes, over the limit of \(limit) bytes."
        case .invalidField(let what, let field, let reason):
            "Invalid \(what): field '\(field)' \(reason)."
        }
    }

    public var origin: ErrorOrigin { .external }
    public var persistence: ErrorPersistence { .permanent }
}
