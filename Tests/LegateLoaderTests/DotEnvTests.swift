import Foundation
import LegateCore
import LegateCrypto
import XCTest

@testable import LegateLoader

/// The .env quoting rules, and a round trip of awkward values through a real /bin/sh.
final class DotEnvTests: XCTestCase {
    /// Values that break naive quoting: quotes, `$`, backquotes, backslashes, newlines, comments.
    static let awkward: [String: String] = [
        "PLAIN": "abc-DEF_123:/x.y@z%+=,",
        "SPACES": "  leading and trailing  ",
        "EMPTY": "",
        "SINGLE": "it's a 'quote'",
        "DOUBLE": #"say "hi""#,
        "DOLLAR": "$HOME ${HOME} $(id) $$",
        "BACKQUOTE": "`id` and `uname`",
        "BACKSLASH": #"C:\path\to\n\t"#,
        "TRAILING_BACKSLASH": #"ends with \"#,
        "NEWLINES": "line one\nline two\n\nline four\n",
        "HASH": "value # not a comment",
        "EQUALS": "a=b=c",
        "MIXED": #"'$x' "$y" \$z `w` \\ \"#,
        "CR": "carriage\rreturn",
        "UNICODE": "päss wörd ✓ 'q\u{301}'",
        "GLOB": "* ? [a-z] ~",
        "SEMICOLON": "a; rm -rf /; b && c | d",
    ]

    func testQuotingPicksTheLightestExactForm() {
        XCTAssertEqual(DotEnv.quote("abc-1.2/x").quoting, .bare)
        XCTAssertEqual(DotEnv.quote("two words").text, "'two words'")
        XCTAssertEqual(DotEnv.quote("$HOME").text, "'$HOME'")
        XCTAssertEqual(DotEnv.quote("").text, "''")
        XCTAssertEqual(DotEnv.quote("it's").text, #""it's""#)
        XCTAssertEqual(DotEnv.quote("it's").quoting, .double)
        XCTAssertEqual(DotEnv.quote(#"a\b"#).text, #""a\\b""#)
        XCTAssertEqual(DotEnv.quote(#"it's $x"#).text, #""it's \$x""#)
        XCTAssertEqual(DotEnv.quote(#"it's $x"#).quoting, .shellOnly)
        XCTAssertEqual(DotEnv.quote("a\rb").quoting, .shellOnly)
        // A quote followed by a combining mark is one Character but still a quote to sh.
        XCTAssertNotEqual(DotEnv.quote("q'\u{301}").quoting, .single)
    }

    func testNamesAreChecked() throws {
        XCTAssertTrue(DotEnv.isValidName("API_KEY"))
        XCTAssertTrue(DotEnv.isValidName("_x1"))
        XCTAssertFalse(DotEnv.isValidName("1X"))
        XCTAssertFalse(DotEnv.isValidName("A-B"))
        XCTAssertFalse(DotEnv.isValidName(""))
        XCTAssertEqual(DotEnv.databasePrefix("timescale-db.main"), "TIMESCALE_DB_MAIN")
        XCTAssertThrowsError(try DotEnv.render([EnvEntry(name: "bad-name", value: SecretBytes(utf8: "v"), source: "secret/x")])) { e in
            XCTAssertTrue((e as? LoaderError)?.message.contains("'bad-name' from secret/x") ?? false, "\(e)")
        }
        XCTAssertThrowsError(try DotEnv.render([EnvEntry(name: "NUL", value: SecretBytes([0x61, 0, 0x62]), source: "secret/x")])) { e in
            XCTAssertEqual((e as? LoaderError)?.code, "loader_env_binary")
        }
    }

    /// `set -a; . ./.env` in /bin/sh gives back every value byte for byte.
    func testEveryValueRoundTripsThroughSh() throws {
        let entries = Self.awkward.keys.sorted().map { EnvEntry(name: $0, value: SecretBytes(utf8: Self.awkward[$0] ?? ""), source: "test") }
        let rendered = try DotEnv.render(entries)
        XCTAssertEqual(Set(rendered.shellOnlyNames), ["MIXED", "CR"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("legate-dotenv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try rendered.bytes.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir + "/.env")) }
        let values = try Self.readBackWithSh(envFile: dir + "/.env", names: Array(Self.awkward.keys), scratch: dir)
        for (name, value) in Self.awkward {
            XCTAssertEqual(values[name], value, name)
        }
    }

    /// Sources the file in `sh` and writes each variable's bytes to its own file (no command
    /// substitution, which would strip trailing newlines).
    static func readBackWithSh(envFile: String, names: [String], scratch: String) throws -> [String: String] {
        let script = "set -a; . \"$1\"; set +a; shift; for n in \"$@\"; do eval \"printf '%s' \\\"\\$$n\\\"\" > \"$OUT/$n\"; done"
        let pid = try ProcessSpawner.spawn(
            argv: ["/bin/sh", "-c", script, "sh", envFile] + names, environment: ["PATH": "/usr/bin:/bin", "OUT": scratch])
        XCTAssertEqual(ProcessSpawner.exitStatus(of: pid, wait: true), 0)
        var out: [String: String] = [:]
        for n in names { out[n] = try String(contentsOfFile: scratch + "/" + n, encoding: .utf8) }
        return out
    }
}
