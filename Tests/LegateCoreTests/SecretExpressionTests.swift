import XCTest

@testable import LegateCore

final class SecretExpressionTests: XCTestCase {
    func refs(_ text: String) throws -> [String] {
        try SecretExpression.find(in: text, field: "script").map(\.reference.description)
    }

    func message(_ text: String) -> String {
        do {
            _ = try SecretExpression.find(in: text, field: "script")
            return "no error"
        } catch { return error.message }
    }

    func testFindsEveryFormWithEitherQuote() throws {
        XCTAssertEqual(
            try refs(#"a <+secrets.getValue("db")> b <+secrets.getValue('org.tls')>c<+secrets.getValue("account.root_key-2")>"#),
            ["db", "org.tls", "account.root_key-2"])
        XCTAssertEqual(try refs("no expressions, <+pipeline.name> left alone"), [])
        XCTAssertEqual(try refs(""), [])
    }

    func testRangesAndSubstitutionKeepSurroundingTextIncludingUnicode() throws {
        let text = #"héllo <+secrets.getValue("db")>! ✓ <+secrets.getValue("org.x1")>"#
        let out = try SecretExpression.substitute(in: text, field: "script") { "[\($0)]" }
        XCTAssertEqual(out, "héllo [db]! ✓ [org.x1]")
    }

    func testErrorsNameTheProblemAndColumn() {
        XCTAssertTrue(message(#"echo <+secrets.getValue("db"> x"#).contains("column 6"))
        XCTAssertTrue(message(#"echo <+secrets.getValue("db"> x"#).contains("expected ')>'"))
        XCTAssertTrue(message(#"<+secrets.getValue("db)>"#).contains("unterminated"))
        XCTAssertTrue(message(#"<+secrets.getValue("team.db")>"#).contains("unknown scope 'team'"))
        XCTAssertTrue(message(#"<+secrets.getValue(db)>"#).contains("quoted"))
        XCTAssertTrue(message(#"<+secrets.getValue("")>"#).contains("empty secret name"))
        XCTAssertTrue(message(#"<+secrets.getValue("a b")>"#).contains("may only contain"))
        XCTAssertTrue(message(#"<+secrets.getValue("org.a.b")>"#).contains("too many dots"))
        XCTAssertTrue(message(#"<+secrets.list()>"#).contains("unknown function"))
        // Nesting is not a thing: the inner '<' ends the name.
        XCTAssertTrue(message(#"<+secrets.getValue("<+secrets.getValue("x")>")>"#).contains("unterminated"))
    }

    func testScopesNestByPrefixAndReferencesResolve() throws {
        let project = try Scope("acme/payments/checkout")
        XCTAssertEqual(project.level, .project)
        XCTAssertTrue(try Scope("acme").contains(project))
        XCTAssertTrue(try Scope("acme/payments").contains(project))
        XCTAssertFalse(try Scope("acme/pay").contains(project))
        XCTAssertFalse(project.contains(try Scope("acme/payments")))
        XCTAssertEqual(try SecretReference(level: .org, name: "x").targetScope(from: project).description, "acme/payments")
        XCTAssertEqual(try SecretReference(level: .account, name: "x").targetScope(from: project).description, "acme")
        XCTAssertEqual(try SecretReference(level: .same, name: "x").targetScope(from: project).description, "acme/payments/checkout")
        XCTAssertThrowsError(try SecretReference(level: .org, name: "x").targetScope(from: try Scope("acme")))
        for bad in ["", "a/b/c/d", "Acme", "a//b", "a b"] {
            XCTAssertThrowsError(try Scope(bad), bad)
        }
    }
}
