import Foundation

/// Resolves vault.address's host before the first request, so "no such host" is told apart from
/// "connection refused" (the HTTP stack reports both as a failed connection). Names under
/// `.invalid` are answered "no such host" at once without a DNS query, as RFC 6761 §6.4 asks of
/// resolver APIs.
public enum VaultHostCheck {
    public enum Outcome: Sendable, Equatable {
        case resolved
        case noSuchHost
        /// DNS did not answer (EAI_AGAIN): the resolver is unreachable or overloaded.
        case dnsUnavailable
    }

    public static func isReservedInvalid(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        return h == "invalid" || h.hasSuffix(".invalid")
    }

    /// Looks `host` up with getaddrinfo on a separate thread (the call blocks).
    public static func check(host: String) async -> Outcome {
        if isReservedInvalid(host) { return .noSuchHost }
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: lookup(host))
            }
        }
    }

    static func lookup(_ host: String) -> Outcome {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        if let result { freeaddrinfo(result) }
        switch rc {
        case 0: return .resolved
        // -5 is glibc's EAI_NODATA (a GNU extension the Swift Glibc module does not import).
        case EAI_NONAME, -5: return .noSuchHost
        case EAI_AGAIN: return .dnsUnavailable
        // Anything else (EAI_SYSTEM, EAI_FAIL…): let the connection attempt report it.
        default: return .resolved
        }
    }
}
