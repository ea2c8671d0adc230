import Foundation
import KeyProviders
import LegateCore

/// An error answer from an AWS service, before it is worded for the operator.
struct AWSServiceError: Sendable {
    var status: Int
    /// The error code without its namespace prefix (`AccessDeniedException`, `ExpiredToken`).
    var code: String
    /// AWS's own message; never contains credentials.
    var message: String

    /// Parses the JSON (`__type`, `message`/`Message`) or XML (`<Code>`, `<Message>`) error shapes.
    /// moto answers authentication failures in XML even for JSON services.
    static func parse(status: Int, body: [UInt8], headers: [(String, String)]) -> AWSServiceError {
        var code = ""
        var message = ""
        if let object = JSONValue.object(from: body) {
            code = (object["__type"] as? String) ?? (object["code"] as? String) ?? ""
            message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
        } else {
            let xml = XMLFields(body)
            code = xml.first("Code") ?? ""
            message = xml.first("Message") ?? ""
        }
        if code.isEmpty, let header = headers.first(where: { $0.0.lowercased() == "x-amzn-errortype" })?.1 {
            code = header
        }
        // "com.amazonaws.kms#NotFoundException" and "NotFoundException:http://..." both occur.
        if let hash = code.lastIndex(of: "#") { code = String(code[code.index(after: hash)...]) }
        if let colon = code.firstIndex(of: ":") { code = String(code[..<colon]) }
        if code.isEmpty { code = status >= 500 ? "ServerError" : "HTTP\(status)" }
        return AWSServiceError(status: status, code: code, message: String(message.prefix(500)))
    }

    var isThrottling: Bool {
        ["ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
         "RequestThrottled", "RequestThrottledException", "SlowDown", "LimitExceededException", "PriorRequestNotComplete"]
            .contains(code) || status == 429
    }

    var isServerSide: Bool {
        status >= 500
            || ["KMSInternalException", "DependencyTimeoutException", "InternalFailure", "InternalServiceError",
                "ServiceUnavailable", "IDPCommunicationError", "InternalServerError", "KeyUnavailableException"].contains(code)
    }

    var isExpiredToken: Bool { ["ExpiredToken", "ExpiredTokenException", "RequestExpired"].contains(code) }

    /// Worded for the operator: what failed, on what, and what to check. `subject` names the
    /// resource ("KMS key arn:… in eu-west-1"), `route` how we authenticated.
    func providerError(action: String, subject: String, route: String) -> ProviderError {
        let aws = message.isEmpty ? code : "\(code): \(message)"
        if isThrottling {
            return .transient("aws_throttled", "AWS throttled \(action) on \(subject) (\(aws)); retrying with backoff.")
        }
        if isServerSide {
            return .transient("aws_unavailable", "AWS failed \(action) on \(subject) with HTTP \(status) (\(aws)); retrying with backoff.")
        }
        switch code {
        case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError":
            return .permanent(
                "aws_access_denied",
                "AWS denied \(action) on \(subject) to the credentials from \(route) (\(aws)). Check the IAM policy of that identity and, for KMS, the key policy.")
        case "InvalidCiphertextException":
            return .permanent(
                "aws_invalid_ciphertext",
                "KMS could not decrypt the data key with \(subject) (\(aws)). The envelope was sealed with another key or another encryption context (the secret's scope, name or version changed), or was tampered with.")
        case "IncorrectKeyException":
            return .permanent(
                "aws_incorrect_key", "The data key was encrypted under another KMS key than \(subject) (\(aws)); check the connector's keyId.")
        case "NotFoundException", "ResourceNotFoundException":
            return .permanent("aws_not_found", "\(subject) was not found (\(aws)). Check the identifier and the region.")
        case "DisabledException", "KMSInvalidStateException":
            return .permanent(
                "aws_key_disabled", "\(subject) is disabled or pending deletion (\(aws)). Enable the key in KMS or point the connector at another key.")
        case "ExpiredToken", "ExpiredTokenException", "RequestExpired":
            return .permanent(
                "aws_expired_token",
                "AWS rejected the session token from \(route) as expired (\(aws)). Check the delegate's clock and that the credential source issues fresh credentials.")
        case "InvalidIdentityToken", "InvalidIdentityTokenException":
            return .permanent(
                "aws_invalid_identity_token",
                "STS rejected the web identity token for \(subject) (\(aws)). Check the token's issuer and audience, that the OIDC provider is registered in IAM, and the role's trust policy.")
        case "UnrecognizedClientException", "InvalidClientTokenId":
            return .permanent(
                "aws_unknown_access_key",
                "AWS does not recognise the access key id from \(route) (\(aws)). Check the connector's accessKeyId credential, or that the key was not deleted or deactivated.")
        case "SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature":
            return .permanent(
                "aws_bad_signature",
                "AWS rejected the request signature for \(action) (\(aws)). The secret access key from \(route) does not match its access key id, or the delegate's clock is off.")
        case "RegionDisabledException", "OptInRequired":
            return .permanent("aws_region_disabled", "\(subject): the region is not enabled for this account (\(aws)). Enable it or use another region.")
        case "ValidationException", "ValidationError", "InvalidParameterException", "InvalidParameterValue",
            "InvalidKeyUsageException", "MalformedPolicyDocument", "InvalidRequestException":
            return .configuration("aws_invalid_request", "AWS rejected \(action) on \(subject) as invalid (\(aws)). Check the connector's settings.")
        default:
            return .permanent("aws_error", "AWS failed \(action) on \(subject) with HTTP \(status) (\(aws)).")
        }
    }
}

/// Minimal JSON access through JSONSerialization, without Codable models for every AWS shape.
enum JSONValue {
    static func object(from bytes: [UInt8]) -> [String: Any]? {
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0a && $0 != 0x0d && $0 != 0x09 }), first == UInt8(ascii: "{") else {
            return nil
        }
        return (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }
}
