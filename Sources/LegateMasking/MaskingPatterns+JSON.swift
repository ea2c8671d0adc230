extension MaskingPatterns {
    /// One JSON encoder's way of escaping a string's content.
    struct JSONStyle: Sendable {
        /// `/` written as `\/` (Foundation's JSONEncoder and JSONSerialization, PHP).
        var escapeSlash = false
        /// U+2028 and U+2029 written as `\u2028`, `\u2029` (Go, which also hex-escapes `<>&`).
        var escapeLineSeparators = false
        /// Non-ASCII written as `\uXXXX` UTF-16 units (Python's default, PHP, .NET).
        var asciiOnly = false
        /// `\u` escapes with upper-case hex digits (.NET, Jackson).
        var upperHex = false
        /// ASCII characters written as `\u00XX` instead of themselves or a short escape.
        var hexEscaped: String = ""
    }

    static let jsonStyles: [JSONStyle] = [
        // JSONEncoder with .withoutEscapingSlashes, JavaScript, Rust serde, Python ensure_ascii=False.
        JSONStyle(),
        // Foundation JSONEncoder (default) and JSONSerialization.
        JSONStyle(escapeSlash: true),
        // Go encoding/json (HTML-safe by default).
        JSONStyle(escapeLineSeparators: true, hexEscaped: "<>&"),
        // Python json.dumps (ensure_ascii=True by default).
        JSONStyle(asciiOnly: true),
        // PHP json_encode.
        JSONStyle(escapeSlash: true, asciiOnly: true),
        // .NET System.Text.Json with its default encoder.
        JSONStyle(asciiOnly: true, upperHex: true, hexEscaped: "\"&'+<>`"),
        // Jackson and other encoders using upper-case hex for control characters.
        JSONStyle(upperHex: true),
    ]

    /// The forms a value takes inside a JSON string as common encoders write it (without the
    /// surrounding quotes): `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other control characters as
    /// `\u00XX`; with and without `/` escaped as `\/`; Go's HTML-safe escapes; non-ASCII as `\uXXXX`
    /// (Python, PHP, .NET). A multi-line secret therefore also yields its one-line `…\n…` form.
    /// Forms equal to the raw value are left out.
    public static func jsonEscapedForms(of value: [UInt8]) -> [[UInt8]] {
        // Escapes that work on Unicode scalars need valid UTF-8; for other bytes (binary file
        // secrets) only the byte-wise forms make sense, non-ASCII bytes passing through unchanged.
        let scalars = decodeUTF8(value)
        var result: [[UInt8]] = []
        for style in jsonStyles {
            guard let form = jsonEscape(value, scalars: scalars, style: style) else { continue }
            if form != value, !result.contains(form) { result.append(form) }
        }
        return result
    }

    /// Escapes `value` in `style`; nil when the style needs scalars and the value is not UTF-8.
    static func jsonEscape(_ value: [UInt8], scalars: [Unicode.Scalar]?, style: JSONStyle) -> [UInt8]? {
        let digits = style.upperHex ? upperHexDigits : lowerHexDigits
        var hexSet = [Bool](repeating: false, count: 128)
        for byte in style.hexEscaped.utf8 where byte < 128 { hexSet[Int(byte)] = true }
        var out: [UInt8] = []
        out.reserveCapacity(value.count + value.count / 4 + 8)

        func appendUnicodeEscape(_ unit: UInt16) {
            out.append(UInt8(ascii: "\\"))
            out.append(UInt8(ascii: "u"))
            out.append(digits[Int(unit >> 12 & 0xF)])
            out.append(digits[Int(unit >> 8 & 0xF)])
            out.append(digits[Int(unit >> 4 & 0xF)])
            out.append(digits[Int(unit & 0xF)])
        }

        func appendASCII(_ byte: UInt8) {
            if hexSet[Int(byte)] {
                appendUnicodeEscape(UInt16(byte))
                return
            }
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case UInt8(ascii: "/") where style.escapeSlash: out.append(contentsOf: [0x5C, UInt8(ascii: "/")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case ..<0x20: appendUnicodeEscape(UInt16(byte))
            default: out.append(byte)
            }
        }

        let needsScalars = style.asciiOnly || style.escapeLineSeparators
        if needsScalars {
            guard let scalars else { return nil }
            for scalar in scalars {
                if scalar.isASCII {
                    appendASCII(UInt8(scalar.value))
                } else if style.asciiOnly
                    || (style.escapeLineSeparators && (scalar.value == 0x2028 || scalar.value == 0x2029))
                {
                    for unit in String(scalar).utf16 { appendUnicodeEscape(unit) }
                } else {
                    out.append(contentsOf: String(scalar).utf8)
                }
            }
        } else {
            for byte in value {
                if byte < 0x80 { appendASCII(byte) } else { out.append(byte) }
            }
        }
        return out
    }

    /// The scalars of `value`, or nil if it is not valid UTF-8.
    static func decodeUTF8(_ value: [UInt8]) -> [Unicode.Scalar]? {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(value.count)
        var iterator = value.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput: return scalars
            case .error: return nil
            }
        }
    }
}
