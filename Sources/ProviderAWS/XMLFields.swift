/// Reads the text of named elements from the small, flat XML documents STS and AWS error
/// responses use (`<Code>`, `<AccessKeyId>`, ...). Not a general XML parser: it finds the first
/// `<Name>text</Name>` occurrence, ignores namespaces on the element, and decodes the five
/// predefined entities and numeric character references. Enough for documents AWS generates, and
/// it keeps libxml2 (FoundationXML) out of the static binary.
struct XMLFields {
    let text: String

    init(_ bytes: [UInt8]) { self.text = String(decoding: bytes, as: UTF8.self) }

    /// The decoded text of the first element named `name`, or nil.
    func first(_ name: String) -> String? {
        var searchFrom = text.startIndex
        while let open = text.range(of: "<\(name)", range: searchFrom..<text.endIndex) {
            // The tag name must end here (not `<CodeX>`), and may carry attributes.
            guard let next = text[open.upperBound...].first, next == ">" || next == " " || next == "/" else {
                searchFrom = open.upperBound
                continue
            }
            guard let tagEnd = text.range(of: ">", range: open.upperBound..<text.endIndex) else { return nil }
            if text[text.index(before: tagEnd.lowerBound)] == "/" { return "" }
            guard let close = text.range(of: "</\(name)>", range: tagEnd.upperBound..<text.endIndex) else { return nil }
            return Self.decode(text[tagEnd.upperBound..<close.lowerBound])
        }
        return nil
    }

    static func decode(_ s: Substring) -> String {
        guard s.contains("&") else { return String(s) }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].firstIndex(of: ";"), s.distance(from: i, to: semi) <= 10 {
                let entity = s[s.index(after: i)..<semi]
                var replacement: String?
                switch entity {
                case "amp": replacement = "&"
                case "lt": replacement = "<"
                case "gt": replacement = ">"
                case "quot": replacement = "\""
                case "apos": replacement = "'"
                default:
                    if entity.hasPrefix("#x"), let v = UInt32(entity.dropFirst(2), radix: 16), let u = Unicode.Scalar(v) {
                        replacement = String(Character(u))
                    } else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()), let u = Unicode.Scalar(v) {
                        replacement = String(Character(u))
                    }
                }
                if let replacement {
                    out += replacement
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }
}
