import Foundation
import LegateCrypto
import XCTest

@testable import LegateLoader

/// Publishing is all or nothing, with 0600 files and 0700 directories, in both layouts.
final class OutputDirectoryTests: XCTestCase {
    var root = ""

    override func setUp() {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("legate-out-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    /// The mode of what `path` leads to (symlinks followed, as a reader opening it would).
    func mode(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_mode & 0o7777) : -1
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<missing>" }

    func files(_ pairs: [(String, String)]) -> [OutputDirectory.File] { pairs.map { .init(name: $0.0, bytes: SecretBytes(utf8: $0.1)) } }

    func check(_ out: String, env: String, files expected: [String: String]) {
        XCTAssertEqual(read(out + "/.env"), env)
        XCTAssertEqual(mode(out + "/.env"), 0o600)
        XCTAssertEqual(mode(out + "/files"), 0o700)
        XCTAssertEqual(Set((try? FileManager.default.contentsOfDirectory(atPath: out + "/files")) ?? []), Set(expected.keys))
        for (name, content) in expected {
            XCTAssertEqual(read(out + "/files/" + name), content, name)
            XCTAssertEqual(mode(out + "/files/" + name), 0o600, name)
        }
    }

    func testSwapLayoutReplacesTheWholeSetAndLeavesNothingBehind() throws {
        let out = root + "/nested/secrets"
        let dir = OutputDirectory(path: out)
        let old = umask(0)
        defer { umask(old) }
        try dir.publish(env: SecretBytes(utf8: "A=1\n"), files: files([("tls.crt", "one"), ("old.pem", "gone soon")]))
        check(out, env: "A=1\n", files: ["tls.crt": "one", "old.pem": "gone soon"])
        XCTAssertEqual(mode(out), 0o700)
        try dir.publish(env: SecretBytes(utf8: "A=2\n"), files: files([("tls.crt", "two")]))
        check(out, env: "A=2\n", files: ["tls.crt": "two"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/nested"), ["secrets"], "no temporary or old set is left")
    }

    func testAFailedPublishKeepsThePreviousSet() throws {
        let out = root + "/secrets"
        let dir = OutputDirectory(path: out)
        try dir.publish(env: SecretBytes(utf8: "A=1\n"), files: files([("a.key", "k")]))
        XCTAssertThrowsError(try dir.publish(env: SecretBytes(utf8: "A=2\n"), files: files([("../escape.key", "x")]))) { e in
            XCTAssertEqual((e as? LoaderError)?.code, "loader_file_name")
        }
        XCTAssertThrowsError(try dir.publish(env: SecretBytes(utf8: "A=2\n"), files: files([("same.pem", "1"), ("same.pem", "2")])))
        check(out, env: "A=1\n", files: ["a.key": "k"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["secrets"])
    }

    func testStaleTemporariesOfDeadLoadersAreRemoved() throws {
        let out = root + "/secrets"
        // pid 2^22+1 is above Linux's pid_max default: never alive.
        let stale = root + "/.secrets.legate-4194305-deadbeef"
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
        try "half".write(toFile: stale + "/.env", atomically: false, encoding: .utf8)
        try OutputDirectory(path: out).publish(env: SecretBytes(utf8: "A=1\n"), files: [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["secrets"])
    }

    func testLinkedLayoutForMountPoints() throws {
        let out = root + "/mounted"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // An earlier plain write inside the volume is replaced too.
        try "OLD=1\n".write(toFile: out + "/.env", atomically: false, encoding: .utf8)
        let dir = OutputDirectory(path: out, layout: .linked)
        try dir.publish(env: SecretBytes(utf8: "A=1\n"), files: files([("ca.crt", "one")]))
        check(out, env: "A=1\n", files: ["ca.crt": "one"])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/.env"), "..data/.env")
        let first = try FileManager.default.destinationOfSymbolicLink(atPath: out + "/..data")
        try dir.publish(env: SecretBytes(utf8: "A=2\n"), files: files([("ca.crt", "two")]))
        check(out, env: "A=2\n", files: ["ca.crt": "two"])
        let second = try FileManager.default.destinationOfSymbolicLink(atPath: out + "/..data")
        XCTAssertNotEqual(first, second)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out)), [".env", "files", "..data", second], "the old set is removed")
        // Automatic detection keeps using the layout it finds.
        XCTAssertEqual(try OutputDirectory(path: out).resolvedLayout(), .linked)
        XCTAssertEqual(try OutputDirectory(path: root + "/fresh").resolvedLayout(), .swap)
    }

    func testAFileInTheWayIsReported() throws {
        try "x".write(toFile: root + "/file", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try OutputDirectory(path: root + "/file").publish(env: SecretBytes(utf8: ""), files: [])) { e in
            XCTAssertEqual((e as? LoaderError)?.kind, .output)
            XCTAssertEqual((e as? LoaderError)?.exitStatus, 7)
        }
    }
}
