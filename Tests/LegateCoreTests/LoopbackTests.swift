import LegateCore
import XCTest

final class LoopbackTests: XCTestCase {
    func testOnlyRealLoopbackHostsCount() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            XCTAssertTrue(Loopback.isLoopback(host: host), host)
        }
        for host in ["127.evil.example", "127.0.0.1.example.com", "128.0.0.1", "10.0.0.1", "localhost.example", "127.0.0", "127.0.0.256", ""] {
            XCTAssertFalse(Loopback.isLoopback(host: host), host)
        }
    }

    func testFreePortIsBindable() throws {
        let port = try LoopbackPort.free()
        XCTAssertTrue((1024...65535).contains(port) || port > 0)
    }
}
