/// Tags and selectors: a task may run on a delegate whose tags contain every selector of the task.
public enum Selectors {
    /// Tags are compared case-insensitively after trimming; empty entries are dropped.
    public static func normalize(_ values: [String]) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for raw in values {
            let v = raw.trimmingWhitespace().lowercased()
            if !v.isEmpty, seen.insert(v).inserted { out.append(v) }
        }
        return out
    }

    public static func matches(tags: [String], selectors: [String]) -> Bool {
        let have = Set(normalize(tags))
        return normalize(selectors).allSatisfy { have.contains($0) }
    }

    /// A tag may hold letters, digits and `-_.:/=`; at most 63 characters, like a Kubernetes label.
    public static func validate(_ value: String, what: String) throws(ConfigurationError) {
        let v = value.trimmingWhitespace()
        guard !v.isEmpty, v.count <= 63 else {
            throw ConfigurationError(code: "invalid_tag", "\(what) '\(value)' must be 1–63 characters long.")
        }
        for ch in v.unicodeScalars {
            let ok = (ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z") || (ch >= "0" && ch <= "9")
                || "-_.:/=".unicodeScalars.contains(ch)
            if !ok {
                throw ConfigurationError(
                    code: "invalid_tag",
                    "\(what) '\(value)' contains '\(ch)'; use letters, digits and - _ . : / = only.")
            }
        }
    }
}

extension String {
    /// Trims spaces, tabs and newlines (including CRLF) at both ends (Foundation-free).
    public func trimmingWhitespace() -> String {
        // Works on scalars: "\r\n" is a single Character, which a Character set would not match.
        let ws: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r"]
        var s = Substring(self).unicodeScalars
        while let f = s.first, ws.contains(f) { s = s.dropFirst() }
        while let l = s.last, ws.contains(l) { s = s.dropLast() }
        return String(String.UnicodeScalarView(s))
    }
}
