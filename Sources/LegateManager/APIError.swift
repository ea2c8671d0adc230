import HTTPTypes
import LegateCore
import LegateWire

/// An error answered to a client as `{"error": {"code", "message"}}` with an HTTP status.
public struct APIError: LegateError {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var origin: ErrorOrigin { .external }
    public var persistence: ErrorPersistence { status.code >= 500 ? .transient : .permanent }

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    static func from(_ error: WireError) -> APIError {
        switch error {
        case .payloadTooLarge: APIError(.contentTooLarge, error.code, error.message)
        default: APIError(.badRequest, error.code, error.message)
        }
    }

    static let badToken = APIError(
        .unauthorized, "unauthorized",
        "The delegate token is not valid. Give the agent the token printed by `legate-manager token create` (token_file or LEGATE_TOKEN_FILE).")
    static let revoked = APIError(
        .unauthorized, "token_revoked",
        "The delegate token has been revoked by an administrator. Create a new token with `legate-manager token create` and restart the agent with it.")
    static let badAdminKey = APIError(
        .unauthorized, "unauthorized",
        "Missing or invalid admin API key. Send `Authorization: Bearer <key>`; the first key is in the manager's state directory (admin.key).")
}
