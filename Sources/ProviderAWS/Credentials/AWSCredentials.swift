import Foundation
import LegateCore

/// A set of AWS credentials. The secret key and session token never print.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: Redacted<String>
    /// Present for temporary credentials (STS, instance and container roles).
    public var sessionToken: Redacted<String>?
    /// When temporary credentials stop working; `nil` for long-term access keys.
    public var expiration: Date?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = Redacted(secretAccessKey)
        self.sessionToken = sessionToken.map { Redacted($0) }
        self.expiration = expiration
    }

    /// The access key id is not secret (it appears in every signed request) and helps operators
    /// tell which credentials were used.
    public var description: String {
        "AWSCredentials(\(accessKeyId), secret: <redacted>\(sessionToken == nil ? "" : ", session"), expires: \(expiration.map { "\($0)" } ?? "never"))"
    }
}
