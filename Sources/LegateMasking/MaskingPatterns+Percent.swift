extension MaskingPatterns {
    /// One way of percent-encoding: which ASCII characters stay literal, the case of the hex digits,
    /// and whether a space becomes `+` (HTML form encoding).
    struct PercentStyle: Sendable {
        let literal: [Bool]
        let upperHex: Bool
        let spaceAsPlus: Bool

        init(keeping extra: String, upperHex: Bool = true, spaceAsPlus: Bool = false) {
            var literal = [Bool](repeating: false, count: 256)
            for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { literal[Int(byte)] = true }
            for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { literal[Int(byte)] = true }
            for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { literal[Int(byte)] = true }
            for byte in extra.utf8 { literal[Int(byte)] = true }
            self.literal = literal
            self.upperHex = upperHex
            self.spaceAsPlus = spaceAsPlus
        }
    }

    /// The encoders seen in practice. Which characters an encoder leaves alone varies, and every
    /// choice yields a different string, so each common set is listed; duplicates collapse later
    /// (a secret of letters and digits has a single form).
    static let percentStyles: [PercentStyle] = [
        // RFC 3986 unreserved: Python quote(safe=""), curl_easy_escape, most libraries' "encode component".
        PercentStyle(keeping: "-._~"),
        PercentStyle(keeping: "-._~", upperHex: false),
        // Letters and digits only: Foundation's `.alphanumerics`, some hand-written encoders.
        PercentStyle(keeping: ""),
        // JavaScript encodeURIComponent.
        PercentStyle(keeping: "-._~!'()*"),
        // Python quote() with its default safe="/".
        PercentStyle(keeping: "-._~/"),
        // Foundation `.urlQueryAllowed` and `.urlFragmentAllowed`.
        PercentStyle(keeping: "!$&'()*+,-./:;=?@_~"),
        // Foundation URLComponents.queryItems (query-allowed less the separators & and =).
        PercentStyle(keeping: "!$'()*+,-./:;?@_~"),
        // Foundation `.urlPathAllowed`, with and without ':' (swift-corelibs-foundation leaves it out).
        PercentStyle(keeping: "!$&'()*+,-./=@_~"),
        PercentStyle(keeping: "!$&'()*+,-./:=@_~"),
        // Foundation `.urlUserAllowed`, `.urlPasswordAllowed`, `.urlHostAllowed` (credentials in URLs).
        PercentStyle(keeping: "!$&'()*+,-.;=_~"),
        // Go url.QueryEscape, Python quote_plus.
        PercentStyle(keeping: "-._~", spaceAsPlus: true),
        // application/x-www-form-urlencoded as browsers and the WHATWG URL standard write it.
        PercentStyle(keeping: "*-._", spaceAsPlus: true),
    ]

    /// Percent-encoded forms of a value as common URL and form encoders write them: RFC 3986
    /// unreserved characters kept (upper- and lower-case hex), letters and digits only, JavaScript's
    /// `encodeURIComponent`, Foundation's query, path and user/password sets, and form encoding with
    /// `+` for a space. Forms equal to the raw value are left out.
    public static func percentEncodedForms(of value: [UInt8]) -> [[UInt8]] {
        var result: [[UInt8]] = []
        for style in percentStyles {
            let form = percentEncode(value, style: style)
            if form != value, !result.contains(form) { result.append(form) }
        }
        return result
    }

    static func percentEncode(_ value: [UInt8], style: PercentStyle) -> [UInt8] {
        let digits = style.upperHex ? upperHexDigits : lowerHexDigits
        var out: [UInt8] = []
        out.reserveCapacity(value.count * 3)
        for byte in value {
            if style.literal[Int(byte)] {
                out.append(byte)
            } else if byte == 0x20 && style.spaceAsPlus {
                out.append(UInt8(ascii: "+"))
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        return out
    }

    static let upperHexDigits = Array("0123456789ABCDEF".utf8)
    static let lowerHexDigits = Array("0123456789abcdef".utf8)
}
