import Foundation
import LegateCore
import XCTest

final class RedactedTests: XCTestCase {
    private let secret = "hunter2-s3cr3t-value"

    func testDescriptionsHideTheValue() {
        let r = Redacted(secret)
        XCTAssertEqual(r.description, "<redacted>")
        XCTAssertEqual(r.debugDescription, "<redacted>")
        XCTAssertEqual(String(describing: r), "<redacted>")
        XCTAssertEqual(String(reflecting: r), "<redacted>")
        XCTAssertEqual("token=\(r)", "token=<redacted>")
        XCTAssertEqual(r.unsafeValue, secret)
    }

    func testDumpDoesNotWalkIntoTheValue() {
        let r = Redacted(secret)
        var out = ""
        dump(r, to: &out)
        XCTAssertFalse(out.isEmpty)
        XCTAssertFalse(out.contains(secret), out)
        XCTAssertFalse(out.contains("hunter2"), out)
        XCTAssertTrue(out.contains("<redacted>"), out)
        XCTAssertTrue(Mirror(reflecting: r).children.isEmpty)
    }

    func testNestedInOtherValuesStaysHidden() {
        struct Holder {
            var name: String
            var token: Redacted<String>
            var optional: Redacted<String>?
            var list: [Redacted<String>]
        }
        let h = Holder(name: "visible-name", token: Redacted(secret), optional: Redacted(secret), list: [Redacted(secret)])
        let printed = String(describing: h)
        XCTAssertTrue(printed.contains("visible-name"), printed)
        XCTAssertFalse(printed.contains(secret), printed)
        XCTAssertFalse(String(reflecting: h).contains(secret))
        var dumped = ""
        dump(h, to: &dumped)
        XCTAssertTrue(dumped.contains("visible-name"), dumped)
        XCTAssertFalse(dumped.contains(secret), dumped)
        XCTAssertFalse("\(Optional(Redacted(secret)) as Any)".contains(secret))
    }

    func testWorksForNonStringValues() {
        let r = Redacted([UInt8](repeating: 0x41, count: 5) + Array("PAYLOAD".utf8))
        var dumped = ""
        dump(r, to: &dumped)
        XCTAssertFalse(dumped.contains("65"), dumped)
        XCTAssertEqual("\(r)", "<redacted>")
    }

    func testEquatableAndHashableFollowTheValue() {
        XCTAssertEqual(Redacted("a"), Redacted("a"))
        XCTAssertNotEqual(Redacted("a"), Redacted("b"))
        XCTAssertEqual(Set([Redacted("a"), Redacted("a"), Redacted("b")]).count, 2)
    }
}

final class SelectorsTests: XCTestCase {
    func testNormalizeTrimsLowercasesDedupesAndDropsEmpty() {
        XCTAssertEqual(
            Selectors.normalize(["  Linux ", "linux", "AMD64", "", "   ", "\tpool-a\n", "LINUX", "amd64"]),
            ["linux", "amd64", "pool-a"])
        XCTAssertEqual(Selectors.normalize([]), [])
        XCTAssertEqual(Selectors.normalize(["", " "]), [])
    }

    func testNormalizeKeepsFirstOccurrenceOrder() {
        XCTAssertEqual(Selectors.normalize(["b", "a", "B", "c", "A"]), ["b", "a", "c"])
    }

    func testMatchesIsSubsetSemantics() {
        let tags = ["linux", "amd64", "pool-a"]
        XCTAssertTrue(Selectors.matches(tags: tags, selectors: ["linux"]))
        XCTAssertTrue(Selectors.matches(tags: tags, selectors: ["linux", "pool-a"]))
        XCTAssertTrue(Selectors.matches(tags: tags, selectors: ["pool-a", "amd64", "linux"]))
        XCTAssertFalse(Selectors.matches(tags: tags, selectors: ["linux", "arm64"]))
        XCTAssertFalse(Selectors.matches(tags: tags, selectors: ["windows"]))
        XCTAssertFalse(Selectors.matches(tags: [], selectors: ["linux"]))
        // Prefixes or substrings are not matches.
        XCTAssertFalse(Selectors.matches(tags: ["pool-ab"], selectors: ["pool-a"]))
        XCTAssertFalse(Selectors.matches(tags: ["pool"], selectors: ["pool-a"]))
    }

    func testEmptySelectorsMatchAll() {
        XCTAssertTrue(Selectors.matches(tags: [], selectors: []))
        XCTAssertTrue(Selectors.matches(tags: ["x"], selectors: []))
        XCTAssertTrue(Selectors.matches(tags: ["x"], selectors: ["", "  "]))
    }

    func testMatchesIsCaseInsensitiveAndTrims() {
        XCTAssertTrue(Selectors.matches(tags: ["Linux", "POOL-A"], selectors: ["LINUX", " pool-a "]))
        XCTAssertTrue(Selectors.matches(tags: [" linux "], selectors: ["Linux"]))
    }

    func testValidateAcceptsAllowedCharacters() {
        XCTAssertNoThrow(try Selectors.validate("a-b_c.d:e/f=g", what: "Tag"))
        XCTAssertNoThrow(try Selectors.validate("ABC123", what: "Tag"))
        XCTAssertNoThrow(try Selectors.validate("x", what: "Tag"))
        XCTAssertNoThrow(try Selectors.validate(String(repeating: "a", count: 63), what: "Tag"))
        XCTAssertNoThrow(try Selectors.validate("  trimmed  ", what: "Tag"))
    }

    private func validationError(_ value: String, what: String = "Tag", file: StaticString = #filePath, line: UInt = #line) -> ConfigurationError? {
        do {
            try Selectors.validate(value, what: what)
            XCTFail("'\(value)' was accepted", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func testValidateRejectsEmpty() {
        for v in ["", "   ", "\t\n"] {
            let e = validationError(v)
            XCTAssertEqual(e?.code, "invalid_tag")
            XCTAssertTrue(e?.message.contains("'\(v)'") ?? false, e?.message ?? "")
        }
    }

    func testValidateRejectsTooLong() {
        let long = String(repeating: "b", count: 64)
        let e = validationError(long, what: "Selector")
        XCTAssertEqual(e?.code, "invalid_tag")
        XCTAssertTrue(e?.message.contains(long) ?? false, e?.message ?? "")
        XCTAssertTrue(e?.message.hasPrefix("Selector") ?? false, e?.message ?? "")
        XCTAssertTrue(e?.message.contains("63") ?? false, e?.message ?? "")
    }

    func testValidateRejectsSpacesAndOtherCharacters() {
        for (value, bad) in [("has space", " "), ("comma,tag", ","), ("star*", "*"), ("semi;colon", ";"), ("quote'", "'")] {
            let e = validationError(value)
            XCTAssertEqual(e?.code, "invalid_tag", value)
            XCTAssertTrue(e?.message.contains(value) ?? false, e?.message ?? "")
            XCTAssertTrue(e?.message.contains("contains '\(bad)'") ?? false, e?.message ?? "")
        }
    }

    func testValidateRejectsUnicode() {
        for (value, bad) in [("caf\u{e9}", "\u{e9}"), ("t\u{e4}g", "\u{e4}"), ("emoji\u{1F600}", "\u{1F600}"), ("\u{5317}\u{4eac}", "\u{5317}")] {
            let e = validationError(value)
            XCTAssertEqual(e?.code, "invalid_tag", value)
            XCTAssertTrue(e?.message.contains("'\(value)'") ?? false, e?.message ?? "")
            XCTAssertTrue(e?.message.contains("contains '\(bad)'") ?? false, e?.message ?? "")
        }
    }
}

final class IdentifiersTests: XCTestCase {
    func testMakeHasPrefixAndSixteenHexDigits() {
        for prefix in ["t_", "d_", "tok_", ""] {
            let id = Identifiers.make(prefix: prefix)
            XCTAssertTrue(id.hasPrefix(prefix), id)
            let rest = id.dropFirst(prefix.count)
            XCTAssertEqual(rest.count, 16, id)
            XCTAssertTrue(rest.allSatisfy { "0123456789abcdef".contains($0) }, id)
        }
    }

    func testMakeIsRandom() {
        XCTAssertNotEqual(Identifiers.make(prefix: "t_"), Identifiers.make(prefix: "t_"))
        let many = Set((0..<200).map { _ in Identifiers.make(prefix: "x") })
        XCTAssertEqual(many.count, 200)
    }

    func testRandomBytes() {
        XCTAssertEqual(Identifiers.randomBytes(0), [])
        XCTAssertEqual(Identifiers.randomBytes(32).count, 32)
        XCTAssertNotEqual(Identifiers.randomBytes(32), Identifiers.randomBytes(32))
    }

    func testHex() {
        XCTAssertEqual(Identifiers.hex(bytes: [UInt8]()), "")
        XCTAssertEqual(Identifiers.hex(bytes: [0x00, 0x0f, 0xa5, 0xff]), "000fa5ff")
    }

    func testBase64URLKnownVectors() {
        // RFC 4648 §10, without padding.
        let vectors: [(String, String)] = [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Identifiers.base64URL(Array(plain.utf8)), encoded, plain)
            XCTAssertEqual(Identifiers.decodeBase64URL(encoded), Array(plain.utf8), encoded)
        }
    }

    func testBase64URLUsesURLSafeAlphabet() {
        // 0xfb 0xff → standard "+/8", URL-safe "-_8".
        XCTAssertEqual(Identifiers.base64URL([0xfb, 0xff]), "-_8")
        XCTAssertEqual(Identifiers.base64URL([0xff, 0xff, 0xff]), "____")
        XCTAssertEqual(Identifiers.base64URL([0xf8, 0x00, 0x00]), "-AAA")
        XCTAssertEqual(Identifiers.decodeBase64URL("-_8"), [0xfb, 0xff])
        XCTAssertEqual(Identifiers.decodeBase64URL("____"), [0xff, 0xff, 0xff])
        // Matches Foundation's base64 after mapping the alphabet and stripping padding.
        let bytes = (0...255).map { UInt8($0) }
        let foundation = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        XCTAssertEqual(Identifiers.base64URL(bytes), foundation)
    }

    func testBase64URLRoundTripsAllLengths() {
        var rng = SystemRandomNumberGenerator()
        for length in 0...40 {
            for _ in 0..<5 {
                let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
                let encoded = Identifiers.base64URL(bytes)
                XCTAssertEqual(encoded.count, (length * 4 + 2) / 3, "length \(length)")
                XCTAssertFalse(encoded.contains("="))
                XCTAssertFalse(encoded.contains("+"))
                XCTAssertFalse(encoded.contains("/"))
                XCTAssertEqual(Identifiers.decodeBase64URL(encoded), bytes, "length \(length): \(encoded)")
            }
        }
    }

    func testDecodeRejectsInvalidCharacters() {
        for bad in ["Zm9v+A", "Zm9v/A", "Zm9vYg==", "Zg=", "Zm 9v", "Zm9v\n", "Zm9\u{e9}", "Zm.v", "*"] {
            XCTAssertNil(Identifiers.decodeBase64URL(bad), bad)
        }
    }

    func testDecodeRejectsImpossibleLengths() {
        for bad in ["A", "Zm9vY", "Zm9vYmFyZ", String(repeating: "A", count: 13)] {
            XCTAssertNil(Identifiers.decodeBase64URL(bad), bad)
        }
        XCTAssertEqual(Identifiers.decodeBase64URL(""), [])
    }
}

final class StringTrimmingTests: XCTestCase {
    func testTrimsSpacesTabsAndNewlinesAtBothEnds() {
        XCTAssertEqual("  abc  ".trimmingWhitespace(), "abc")
        XCTAssertEqual("\t\n\r abc \r\t\n".trimmingWhitespace(), "abc")
        XCTAssertEqual("abc".trimmingWhitespace(), "abc")
        XCTAssertEqual("".trimmingWhitespace(), "")
        XCTAssertEqual(" \t\r \n ".trimmingWhitespace(), "")
    }

    func testKeepsInnerWhitespace() {
        XCTAssertEqual("  a b\tc  ".trimmingWhitespace(), "a b\tc")
        XCTAssertEqual("token-value\n".trimmingWhitespace(), "token-value")
    }
}

final class FileIOTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "legate-fileio-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func permissions(_ path: String) throws -> Int {
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        return try XCTUnwrap(attrs[.posixPermissions] as? NSNumber).intValue
    }

    func testWriteCreatesFileWithMode() throws {
        let path = dir + "/secret"
        try FileIO.write("s3cret\n", to: path, mode: 0o600)
        XCTAssertEqual(try permissions(path), 0o600)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "s3cret\n")
    }

    func testWriteAppliesOtherModesExactly() throws {
        let path = dir + "/shared"
        try FileIO.write("x", to: path, mode: 0o640)
        XCTAssertEqual(try permissions(path), 0o640)
        let path2 = dir + "/group-writable"
        // 0o664 would be narrowed by a typical umask (022) if the mode were left to open().
        try FileIO.write("x", to: path2, mode: 0o664)
        XCTAssertEqual(try permissions(path2), 0o664)
    }

    func testWriteReplacesContentAtomically() throws {
        let path = dir + "/config"
        try FileIO.write("first version, quite a bit longer than the second", to: path, mode: 0o644)
        XCTAssertEqual(try permissions(path), 0o644)
        try FileIO.write("second", to: path, mode: 0o600)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "second")
        // The replacement takes the new mode and no temp file is left behind.
        XCTAssertEqual(try permissions(path), 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["config"])
    }

    func testWriteReplacesAFileThatOthersHaveOpen() throws {
        // Atomic rename: a reader holding the old file keeps seeing the old content.
        let path = dir + "/swap"
        try FileIO.write("old", to: path, mode: 0o600)
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        try FileIO.write("new", to: path, mode: 0o600)
        XCTAssertEqual(String(decoding: handle.readDataToEndOfFile(), as: UTF8.self), "old")
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new")
    }

    func testWriteBinaryDataAndEmpty() throws {
        let path = dir + "/bin"
        let bytes = Data((0...255).map { UInt8($0) })
        try FileIO.write(bytes, to: path, mode: 0o600)
        XCTAssertEqual(FileManager.default.contents(atPath: path), bytes)
        try FileIO.write(Data(), to: path, mode: 0o600)
        XCTAssertEqual(FileManager.default.contents(atPath: path), Data())
    }

    func testWriteIntoMissingDirectoryFailsNamingPath() {
        let path = dir + "/no/such/dir/file"
        XCTAssertThrowsError(try FileIO.write("x", to: path, mode: 0o600)) { error in
            let f = error as? FileIO.Failure
            XCTAssertEqual(f?.code, "file_error")
            XCTAssertTrue(f?.message.contains(path) ?? false, "\(error)")
        }
    }

    func testReadTextMissingFileNamesPath() {
        let path = dir + "/does-not-exist.yaml"
        XCTAssertThrowsError(try FileIO.readText(path, what: "configuration file")) { error in
            let f = error as? FileIO.Failure
            XCTAssertNotNil(f)
            XCTAssertEqual(f?.code, "file_error")
            XCTAssertTrue(f?.message.contains(path) ?? false, "\(error)")
            XCTAssertTrue(f?.message.contains("configuration file") ?? false, "\(error)")
            XCTAssertTrue("\(error)".contains(path))
        }
    }

    func testReadTextReadsContentAndRejectsNonUTF8() throws {
        let path = dir + "/text"
        try FileIO.write("héllo\n", to: path, mode: 0o600)
        XCTAssertEqual(try FileIO.readText(path, what: "x"), "héllo\n")
        let bad = dir + "/bad"
        try FileIO.write(Data([0xff, 0xfe, 0x80]), to: bad, mode: 0o600)
        XCTAssertThrowsError(try FileIO.readText(bad, what: "token file")) { error in
            XCTAssertTrue((error as? FileIO.Failure)?.message.contains(bad) ?? false, "\(error)")
        }
    }

    func testMakeDirectory() throws {
        let path = dir + "/a/b/c"
        try FileIO.makeDirectory(path, mode: 0o700)
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: path, isDirectory: &isDir))
        XCTAssertTrue(isDir.boolValue)
        XCTAssertEqual(try permissions(path), 0o700)
    }
}
