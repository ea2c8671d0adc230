extension MaskingPatterns {
    /// Characters bash's `printf %q` escapes with a backslash anywhere in a word.
    private static let shellMetacharacters: Set<UInt8> = Set(" !\"$&'()*,;<>?[\\]^`{|}".utf8)
    /// Characters escaped only at the start of a word (comment and tilde expansion).
    private static let shellLeadingMetacharacters: Set<UInt8> = Set("#~".utf8)

    /// The forms a value takes in a shell command line, without the surrounding quotes, as tools
    /// that log the commands they run write them:
    ///
    /// - inside single quotes, `'` written as `'\''` (most quoting helpers) or `'"'"'` (Python's
    ///   `shlex.quote`);
    /// - inside double quotes, `"`, `\`, `$` and `` ` `` backslash-escaped;
    /// - unquoted with shell metacharacters backslash-escaped (bash `printf %q`), or, for values with
    ///   control characters, the body of bash's `$'…'` quoting.
    ///
    /// Forms equal to the raw value are left out.
    public static func shellQuotedForms(of value: [UInt8]) -> [[UInt8]] {
        var forms: [[UInt8]] = []
        forms.append(replacingSingleQuotes(in: value, with: Array(#"'\''"#.utf8)))
        forms.append(replacingSingleQuotes(in: value, with: Array(#"'"'"'"#.utf8)))
        forms.append(doubleQuotedBody(value))
        if value.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            forms.append(ansiCQuotedBody(value))
        } else {
            forms.append(backslashEscaped(value))
        }
        var result: [[UInt8]] = []
        for form in forms where form != value && !result.contains(form) {
            result.append(form)
        }
        return result
    }

    private static func replacingSingleQuotes(in value: [UInt8], with replacement: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count + 8)
        for byte in value {
            if byte == UInt8(ascii: "'") { out.append(contentsOf: replacement) } else { out.append(byte) }
        }
        return out
    }

    private static func doubleQuotedBody(_ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count + 8)
        for byte in value {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "$"), UInt8(ascii: "`"):
                out.append(UInt8(ascii: "\\"))
            default: break
            }
            out.append(byte)
        }
        return out
    }

    private static func backslashEscaped(_ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count + 8)
        for (index, byte) in value.enumerated() {
            if shellMetacharacters.contains(byte) || (index == 0 && shellLeadingMetacharacters.contains(byte)) {
                out.append(UInt8(ascii: "\\"))
            }
            out.append(byte)
        }
        return out
    }

    /// The body of `$'…'` as bash's `printf %q` writes it for values with control characters.
    private static func ansiCQuotedBody(_ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count + 16)
        for byte in value {
            switch byte {
            case 0x07: out.append(contentsOf: Array(#"\a"#.utf8))
            case 0x08: out.append(contentsOf: Array(#"\b"#.utf8))
            case 0x09: out.append(contentsOf: Array(#"\t"#.utf8))
            case 0x0A: out.append(contentsOf: Array(#"\n"#.utf8))
            case 0x0B: out.append(contentsOf: Array(#"\v"#.utf8))
            case 0x0C: out.append(contentsOf: Array(#"\f"#.utf8))
            case 0x0D: out.append(contentsOf: Array(#"\r"#.utf8))
            case 0x1B: out.append(contentsOf: Array(#"\E"#.utf8))
            case UInt8(ascii: "\\"): out.append(contentsOf: Array(#"\\"#.utf8))
            case UInt8(ascii: "'"): out.append(contentsOf: Array(#"\'"#.utf8))
            case ..<0x20, 0x7F:
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "0") + (byte >> 6))
                out.append(UInt8(ascii: "0") + ((byte >> 3) & 7))
                out.append(UInt8(ascii: "0") + (byte & 7))
            default: out.append(byte)
            }
        }
        return out
    }
}
