import Foundation
import LegateAgent
import LegateCore
import LegateWire
import Synchronization
import XCTest

/// A minimal HTTP CONNECT proxy on loopback (blocking sockets on threads, test-only), counting the
/// tunnels it opened and the targets asked for.
final class ConnectProxy: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    let targets = Mutex<[String]>([])
    let authorizations = Mutex<[String]>([])

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listener = fd
        let l = fd
        Thread.detachNewThread { [self] in
            while true {
                let c = accept(l, nil, nil)
                if c < 0 { return }
                Thread.detachNewThread { self.serve(c) }
            }
        }
    }

    func stop() { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    private func serve(_ client: Int32) {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while read(client, &byte, 1) == 1 {
            head.append(byte)
            if head.suffix(4) == Array("\r\n\r\n".utf8) { break }
        }
        let text = String(decoding: head, as: UTF8.self)
        let lines = text.split(separator: "\r\n")
        guard let first = lines.first, first.hasPrefix("CONNECT ") else { close(client); return }
        let target = String(first.split(separator: " ")[1])
        targets.withLock { $0.append(target) }
        if let auth = lines.first(where: { $0.lowercased().hasPrefix("proxy-authorization:") }) {
            authorizations.withLock { $0.append(String(auth)) }
        }
        let parts = target.split(separator: ":")
        guard parts.count == 2, let p = UInt16(parts[1]) else { close(client); return }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")  // loopback only, whatever was asked
        addr.sin_port = p.bigEndian
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else {
            _ = "HTTP/1.1 502 Bad Gateway\r\n\r\n".withCString { write(client, $0, strlen($0)) }
            close(client); close(upstream); return
        }
        _ = "HTTP/1.1 200 Connection established\r\n\r\n".withCString { write(client, $0, strlen($0)) }
        Thread.detachNewThread { Self.pump(upstream, client) }
        Self.pump(client, upstream)
    }

    private static func pump(_ from: Int32, _ to: Int32) {
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buf.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var off = 0
            while off < n {
                let w = buf.withUnsafeBytes { write(to, $0.baseAddress! + off, n - off) }
                if w <= 0 { break }
                off += w
            }
        }
        shutdown(to, Int32(SHUT_WR))
        shutdown(from, Int32(SHUT_RD))
    }
}

final class ProxyTests: XCTestCase {
    func testAgentReachesTheManagerThroughAnHTTPSProxyForBothHTTPSAndTheStream() async throws {
        let proxy = try ConnectProxy()
        defer { proxy.stop() }
        try await withManager { m in
            let (_, tokenFile) = try await m.tokenFile("proxied")
            var c = AgentConfiguration()
            try c.apply(environment: ["HTTPS_PROXY": "http://ops:pr0xy-pass@127.0.0.1:\(proxy.port)", "NO_PROXY": "example.internal"])
            c.managerURL = m.url
            c.tokenFile = tokenFile
            c.caFile = m.caFile
            c.name = "proxied"
            c.stateDirectory = m.stateDirectory + "/proxied"
            let validated = try c.validated()
            XCTAssertEqual(validated.proxy?.port, proxy.port)
            let admin = try AdminAPI(url: m.url, stateDirectory: m.stateDirectory)
            defer { Task { await admin.shutdown() } }
            try await withAgentService(validated) { monitor in
                try await Harness.eventually("agent on the socket through the proxy") { monitor.status.mode == .socket }
                let t = try await admin.createTask("echo via proxy")
                let done = try await admin.waitFinal([t.id])
                XCTAssertEqual(done.first?.status, .succeeded)
            }
            let targets = proxy.targets.withLock { $0 }
            XCTAssertGreaterThanOrEqual(targets.count, 2, "HTTPS and the WebSocket should both tunnel: \(targets)")
            XCTAssertTrue(targets.allSatisfy { $0 == "localhost:\(m.port)" }, "\(targets)")
            let basic = "Basic " + Data("ops:pr0xy-pass".utf8).base64EncodedString()
            XCTAssertTrue(proxy.authorizations.withLock { $0 }.allSatisfy { $0.hasSuffix(basic) })
        }
        // NO_PROXY exempts the manager's host.
        let bypass = try ProxySettings.resolve(httpsProxy: "http://127.0.0.1:\(proxy.port)", noProxy: "localhost", for: "localhost")
        XCTAssertNil(bypass)
    }
}
