import Foundation
import LegateCrypto

/// The `.env` file format: one `NAME=value` per variable, quoted so that `set -a; . ./.env` in any
/// POSIX sh reads every value back exactly, and compose-style readers (docker compose, python-dotenv)
/// too for every value that can be written for both (docs/loader.md, ".env format").
///
/// Each value gets the lightest form that is exact for the most readers:
/// 1. bare when it has only `A-Za-z0-9_@%+=:,./-`;
/// 2. `'single quoted'` when it has no `'` and no `\` (newlines, `$`, `"`, spaces and `#` are literal);
/// 3. `"double quoted"` with `\\` and `\"` when it has no `$`, no backquote and no carriage return;
/// 4. otherwise `"double quoted"` with `\\ \" \$ \``: exact in sh, but compose-style readers keep the
///    backslash before `$` and backquote (and turn a carriage return into a newline), so such names
///    are reported (never the values).
public enum DotEnv {
    /// How a value was written.
    public enum Quoting: Sendable, Equatable {
        case bare, single, double
        /// Exact only in sh (case 4 above).
        case shellOnly
    }

    /// Whether `name` can be an environment variable that sh and compose accept.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || isLetter(first) else { return false }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isLetter($0) || isDigit($0) }
    }

    /// The variable prefix of a database's credentials: its name upper-cased, `-` and `.` as `_`.
    public static func databasePrefix(_ name: String) -> String {
        String(name.uppercased().map { $0 == "-" || $0 == "." ? "_" : $0 })
    }

    static func isLetter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
    static let bareExtra = Set("_@%+=:,./-".utf8)

    /// The quoted form of `value` (without the `NAME=`).
    public static func quote(_ value: String) -> (text: String, quoting: Quoting) {
        // Byte checks, not Character ones: a quote followed by a combining mark is one Character
        // that is not equal to "'", yet sh still sees the quote.
        let bytes = value.utf8
        if !bytes.isEmpty, bytes.allSatisfy({ isLetter($0) || isDigit($0) || bareExtra.contains($0) }) {
            return (value, .bare)
        }
        func has(_ c: Unicode.Scalar) -> Bool { bytes.contains(UInt8(c.value)) }
        // Compose-style readers open the file as text and turn a carriage return into a newline.
        let carriageReturn = has("\r")
        if !has("'"), !has("\\") {
            return ("'" + value + "'", carriageReturn ? .shellOnly : .single)
        }
        let shellOnly = has("$") || has("`") || carriageReturn
        var out = "\""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "$" where shellOnly: out += "\\$"
            case "`" where shellOnly: out += "\\`"
            default: out.unicodeScalars.append(c)
            }
        }
        out += "\""
        return (out, shellOnly ? .shellOnly : .double)
    }

    /// A rendered file and the names whose values only sh reads exactly.
    public struct Rendered: Sendable {
        public var bytes: SecretBytes
        public var shellOnlyNames: [String]
    }

    /// Renders `entries` in the given order. Names must be valid and values free of NUL bytes
    /// (neither can travel in an environment); errors name the variable and where it came from.
    public static func render(_ entries: [EnvEntry]) throws(LoaderError) -> Rendered {
        var text = "# Written by legate secrets-load. Read it with: set -a; . ./.env; set +a\n"
        var shellOnly: [String] = []
        for e in entries {
            guard isValidName(e.name) else {
                throw .configuration(
                    "loader_env_name",
                    "'\(e.name)' from \(e.source) is not a valid environment variable name (letters, digits and _, not starting with a digit). Rename it in Vault, or give it a file extension (.crt .pem .key .jks .p12) to write it as a file."
                )
            }
            let value: String? = e.value.withUnsafeBytes { raw in
                raw.contains(0) ? nil : String(validating: raw, as: UTF8.self)
            }
            guard let value else {
                throw .configuration(
                    "loader_env_binary",
                    "The value of \(e.name) from \(e.source) is not text (a NUL byte or invalid UTF-8), which an environment variable cannot hold; store it as a file secret.")
            }
            let (quoted, quoting) = quote(value)
            if quoting == .shellOnly { shellOnly.append(e.name) }
            text += e.name + "=" + quoted + "\n"
        }
        return Rendered(bytes: SecretBytes(utf8: text), shellOnlyNames: shellOnly)
    }
}

/// One variable for `.env` and the supervised command's environment.
public struct EnvEntry: Sendable {
    public var name: String
    public var value: SecretBytes
    /// Where it came from, for messages: a Vault path or `database 'mongo'`.
    public var source: String

    public init(name: String, value: SecretBytes, source: String) {
        self.name = name
        self.value = value
        self.source = source
    }
}
