/// A reference to a secret inside task text: `<+secrets.getValue("name")>`, `org.name`, `account.name`.
public struct SecretReference: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Which scope the name is looked up in, relative to the task's scope.
    public enum Level: String, Sendable, Codable {
        /// The task's own scope.
        case same
        case org
        case account
    }

    public var level: Level
    public var name: String

    public init(level: Level, name: String) {
        self.level = level
        self.name = name
    }

    /// As written in an expression: `name`, `org.name` or `account.name`.
    public var description: String {
        switch level {
        case .same: name
        case .org: "org." + name
        case .account: "account." + name
        }
    }

    /// The scope this reference points into, seen from a task at `taskScope`.
    public func targetScope(from taskScope: Scope) throws(ConfigurationError) -> Scope {
        switch level {
        case .same: return taskScope
        case .account: return taskScope.account
        case .org:
            guard let org = taskScope.org else {
                throw ConfigurationError(
                    code: "invalid_secret_reference",
                    "'\(description)' refers to an org secret, but the task's scope '\(taskScope)' is an account; use 'account.\(name)'.")
            }
            return org
        }
    }
}

/// Finds and substitutes secret expressions in task text.
///
/// Grammar: `<+secrets.getValue("REF")>` or with single quotes, where REF is `name`, `org.name` or
/// `account.name` and a name is letters, digits, `-` and `_`. Anything else that starts with `<+`
/// is left alone unless it starts `<+secrets`, which must then be a valid expression.
public enum SecretExpression {
    public struct ParseError: LegateError, Equatable {
        public let code = "invalid_secret_expression"
        public let message: String
        public var origin: ErrorOrigin { .configuration }
        public var persistence: ErrorPersistence { .permanent }
    }

    /// One expression found in a text, with its UTF-8 byte range.
    public struct Match: Sendable, Equatable {
        public var reference: SecretReference
        public var range: Range<Int>
    }

    static let prefix = Array("<+secrets".utf8)
    static let call = Array("<+secrets.getValue(".utf8)

    /// Every expression in `text`, in order. `field` names the text in error messages.
    public static func find(in text: String, field: String) throws(ParseError) -> [Match] {
        let b = Array(text.utf8)
        var out: [Match] = []
        var i = 0
        while i < b.count {
            guard b[i] == UInt8(ascii: "<"), b[i...].starts(with: prefix) else {
                i += 1
                continue
            }
            let start = i
            let column = String(decoding: b[..<start], as: UTF8.self).count + 1
            func fail(_ why: String) -> ParseError {
                ParseError(message: "\(field), column \(column): \(why). Write <+secrets.getValue(\"name\")>, with org. or account. before the name for org or account secrets.")
            }
            guard b[i...].starts(with: call) else { throw fail("unknown function after '<+secrets'") }
            i += call.count
            guard i < b.count, b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") else {
                throw fail("the secret name must be a quoted string")
            }
            let quote = b[i]
            i += 1
            let nameStart = i
            while i < b.count, b[i] != quote {
                if b[i] == UInt8(ascii: "<") || b[i] == UInt8(ascii: ">") || b[i] == UInt8(ascii: "\n") {
                    throw fail("unterminated secret name")
                }
                i += 1
            }
            guard i < b.count else { throw fail("unterminated secret name") }
            let raw = String(decoding: b[nameStart..<i], as: UTF8.self)
            i += 1
            guard i + 1 < b.count, b[i] == UInt8(ascii: ")"), b[i + 1] == UInt8(ascii: ">") else {
                throw fail("expected ')>' after the secret name")
            }
            i += 2
            out.append(Match(reference: try parseReference(raw, fail: fail), range: start..<i))
        }
        return out
    }

    static func parseReference(_ raw: String, fail: (String) -> ParseError) throws(ParseError) -> SecretReference {
        let parts = raw.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let level: SecretReference.Level
        let name: String
        switch parts.count {
        case 1:
            level = .same
            name = parts[0]
        case 2:
            switch parts[0] {
            case "org": level = .org
            case "account": level = .account
            default: throw fail("unknown scope '\(parts[0])' in '\(raw)' (use org. or account.)")
            }
            name = parts[1]
        default:
            throw fail("'\(raw)' has too many dots")
        }
        try validateName(name, fail: fail)
        return SecretReference(level: level, name: name)
    }

    static func validateName(_ name: String, fail: (String) -> ParseError) throws(ParseError) {
        guard !name.isEmpty else { throw fail("empty secret name") }
        guard name.count <= 128 else { throw fail("secret name longer than 128 characters") }
        for c in name.unicodeScalars {
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
            if !ok { throw fail("secret name '\(name)' may only contain letters, digits, '-' and '_'") }
        }
    }

    /// A valid secret name (for creating secrets).
    public static func validate(name: String) throws(ParseError) {
        try validateName(name) { ParseError(message: "Secret name: \($0).") }
    }

    /// Replaces every expression using `replacement`, which gets each reference in turn.
    public static func substitute(
        in text: String, field: String, _ replacement: (SecretReference) throws -> String
    ) throws -> String {
        let matches = try find(in: text, field: field)
        if matches.isEmpty { return text }
        let b = Array(text.utf8)
        var out: [UInt8] = []
        var last = 0
        for m in matches {
            out += b[last..<m.range.lowerBound]
            out += Array(try replacement(m.reference).utf8)
            last = m.range.upperBound
        }
        out += b[last...]
        return String(decoding: out, as: UTF8.self)
    }
}
