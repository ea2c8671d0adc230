/// Canonicalisation steps of AWS Signature Version 4, as pure functions over bytes.
///
/// Everything works on UTF-8 bytes so that raw non-ASCII input and percent-encoded input are
/// treated exactly as AWS does, and so that every step is linear in the size of its input.
enum SigV4Canonical {
    /// The parts of a request URL that signing needs.
    struct URLParts: Equatable {
        var scheme: String
        /// `host[:port]` exactly as written, without user info.
        var authority: String
        /// Raw path as it will be sent; `/` when the URL has none.
        var path: String
        /// Raw query without the `?`; empty when absent.
        var query: String

        /// Host header value: lowercased, default port dropped.
        var hostHeader: String {
            let lower = authority.lowercased()
            let defaultPort = scheme == "https" ? ":443" : scheme == "http" ? ":80" : nil
            if let defaultPort, lower.hasSuffix(defaultPort) {
                return String(lower.dropLast(defaultPort.count))
            }
            return lower
        }
    }

    /// Splits `scheme://authority/path?query#fragment` without Foundation's URL, which rejects the
    /// raw spaces and UTF-8 that AWS's vectors (and real object keys) put in paths.
    static func parseURL(_ url: String) throws(SigV4Error) -> URLParts {
        if url.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw .invalidURL(url, reason: "it contains control characters (line breaks, NUL or tabs)")
        }
        guard let schemeEnd = url.range(of: "://") else {
            throw .invalidURL(url, reason: "it has no scheme; expected https://host/path")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard let first = scheme.first, first.isASCII, first.isLetter,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else {
            throw .invalidURL(url, reason: "its scheme is not valid; expected https://host/path")
        }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            authority = authority[authority.index(after: at)...]
        }
        if authority.isEmpty || authority.hasPrefix(":") {
            throw .invalidURL(url, reason: "it has no host; expected https://host/path")
        }
        if authority.contains(" ") {
            throw .invalidURL(url, reason: "its host contains a space")
        }
        var remainder = rest[authorityEnd...]
        if let hash = remainder.firstIndex(of: "#") {
            remainder = remainder[..<hash]
        }
        var path = remainder
        var query: Substring = ""
        if let q = remainder.firstIndex(of: "?") {
            path = remainder[..<q]
            query = remainder[remainder.index(after: q)...]
        }
        return URLParts(
            scheme: scheme, authority: String(authority), path: path.isEmpty ? "/" : String(path), query: String(query))
    }

    // MARK: - Percent encoding

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    @inline(__always)
    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// RFC 3986 encoding as AWS specifies it: unreserved bytes kept, everything else `%XX` (upper case).
    static func encode<S: Sequence<UInt8>>(_ bytes: S, into out: inout [UInt8]) {
        for b in bytes {
            if isUnreserved(b) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0x0F)])
            }
        }
    }

    static func encode<S: Sequence<UInt8>>(_ bytes: S) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 3)
        encode(bytes, into: &out)
        return out
    }

    /// Decodes `%XX`; a malformed escape is kept literally. `+` stays `+` (AWS does not treat it as space).
    static func decode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%"), i + 2 < bytes.endIndex, let hi = hexValue(bytes[i + 1]),
                let lo = hexValue(bytes[i + 2])
            {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        return out
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    // MARK: - Canonical URI

    private static let dot: [UInt8] = [UInt8(ascii: ".")]
    private static let dotDot: [UInt8] = [UInt8(ascii: "."), UInt8(ascii: ".")]

    /// The canonical URI of a raw request path.
    ///
    /// - `normalize`: drop empty, `.` and `..` segments (every service but S3).
    /// - `doubleEncode`: encode the path as sent, so an already-encoded `%20` becomes `%2520`
    ///   (every service but S3). Otherwise each segment is decoded first and encoded once, which
    ///   is what S3 expects.
    static func canonicalURI(path: String, normalize: Bool, doubleEncode: Bool) -> String {
        let bytes = Array(path.utf8)
        var segments = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        // The path is absolute: drop the empty segment before the first "/" (it is re-added below).
        // Unnormalized, a trailing "/" stays as a final empty segment.
        if segments.first?.isEmpty == true { segments.removeFirst() }
        var trailingSlash = false

        if normalize {
            var kept: [ArraySlice<UInt8>] = []
            kept.reserveCapacity(segments.count)
            for segment in segments {
                if segment.isEmpty || segment.elementsEqual(dot) {
                    continue
                } else if segment.elementsEqual(dotDot) {
                    _ = kept.popLast()
                } else {
                    kept.append(segment)
                }
            }
            // "/a/b/.." names the directory "/a/": keep the slash as RFC 3986 dot-removal does.
            let endsInDot = segments.last.map { $0.elementsEqual(dot) || $0.elementsEqual(dotDot) } ?? false
            trailingSlash = !kept.isEmpty && (bytes.last == UInt8(ascii: "/") || endsInDot)
            segments = kept
        }

        var out: [UInt8] = [UInt8(ascii: "/")]
        out.reserveCapacity(bytes.count * 3 + 1)
        for (i, segment) in segments.enumerated() {
            if i > 0 { out.append(UInt8(ascii: "/")) }
            if doubleEncode {
                encode(segment, into: &out)
            } else {
                encode(decode(segment), into: &out)
            }
        }
        if trailingSlash { out.append(UInt8(ascii: "/")) }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Canonical query

    /// Parameters decoded, re-encoded, sorted by encoded name then value; `name` alone becomes `name=`.
    static func canonicalQuery(_ query: String) -> String {
        if query.isEmpty { return "" }
        var pairs: [(name: [UInt8], value: [UInt8])] = []
        for component in Array(query.utf8).split(separator: UInt8(ascii: "&")) {
            let parts = component.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = encode(decode(parts[0]))
            let value = parts.count > 1 ? encode(decode(parts[1])) : []
            pairs.append((name, value))
        }
        pairs.sort { a, b in
            if a.name != b.name { return a.name.lexicographicallyPrecedes(b.name) }
            return a.value.lexicographicallyPrecedes(b.value)
        }
        var out: [UInt8] = []
        out.reserveCapacity(query.utf8.count * 3)
        for (i, pair) in pairs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: "&")) }
            out += pair.name
            out.append(UInt8(ascii: "="))
            out += pair.value
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Canonical headers

    /// Headers that proxies and HTTP clients may add, drop or rewrite; signing them would make
    /// signatures fail for reasons unrelated to the request.
    static let unsignedHeaders: Set<String> = [
        "authorization", "connection", "expect", "keep-alive", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// Trims and collapses every run of whitespace (including folded line breaks) to one space.
    static func normalizeValue(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                pendingSpace = !out.isEmpty
            default:
                if pendingSpace { out.append(UInt8(ascii: " ")) }
                pendingSpace = false
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Canonical header block (each line ending in `\n`) and the `SignedHeaders` list.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (block: String, signedHeaders: String) {
        // Names keep first-seen order in `order`; values keep request order, joined by ",".
        var values: [String: [String]] = [:]
        var order: [String] = []
        for (name, value) in headers {
            let lower = name.lowercased()
            if unsignedHeaders.contains(lower) { continue }
            if values[lower] == nil { order.append(lower) }
            values[lower, default: []].append(normalizeValue(value))
        }
        order.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var block = ""
        for name in order {
            block += name
            block += ":"
            block += (values[name] ?? []).joined(separator: ",")
            block += "\n"
        }
        return (block, order.joined(separator: ";"))
    }

    // MARK: - Hex

    static func hex<S: Sequence<UInt8>>(_ bytes: S) -> String {
        let lower: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(lower[Int(b >> 4)])
            out.append(lower[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
