#if canImport(Glibc)
import Glibc
#endif

/// A free TCP port on 127.0.0.1, for starting a peer that must be told its port up front (test
/// and benchmark peers such as moto). The port is bound and released, so another process could
/// take it in between; callers that can bind port 0 themselves should do that instead.
public enum LoopbackPort {
    public struct Unavailable: Error, CustomStringConvertible {
        public let description = "no free loopback port could be bound"
    }

    public static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Unavailable() }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw Unavailable() }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
