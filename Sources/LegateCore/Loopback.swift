/// Whether a URL host names this machine: `localhost`, an IPv4 literal in 127.0.0.0/8, or `::1`.
/// A name that merely starts with "127." (127.example.com) is not loopback.
public enum Loopback {
    public static func isLoopback(host: String) -> Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "[::1]" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
