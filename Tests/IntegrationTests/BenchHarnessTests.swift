import Foundation
import LegateCore
import XCTest

/// `legate bench --quick` runs every suite end to end and reports each figure with its same-run
/// reference. No timing is asserted here: figures come from the release build (BENCHMARKS.md).
final class BenchHarnessTests: XCTestCase {
    struct Report: Decodable {
        struct Figure: Decodable {
            var suite: String
            var figure: String
            var value: Double
            var reference: Double?
            var ratio: Double?
            var runs: Int
        }
        var quick: Bool
        var machine: [String: String]
        var figures: [Figure]
    }

    func testQuickRunCoversEverySuiteWithReferences() async throws {
        let dir = Harness.tempDir("legate-bench-quick")
        let json = dir + "/report.json"
        let log = dir + "/bench.log"
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { close(fd) }
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        env["LEGATE_PEERS_BIN"] = Peers.bin
        // From the repository root, where the kms suite finds Tests/Peers/moto_fixture.py.
        let pid = try ProcessSpawner.spawn(
            argv: [Harness.binDirectory + "/legate", "bench", "--quick", "--json", json], environment: env, stdout: fd, stderr: fd,
            workingDirectory: Peers.root.path)
        let clock = ContinuousClock()
        let start = clock.now
        var status: Int32?
        while status == nil, clock.now - start < .seconds(600) {
            status = ProcessSpawner.exitStatus(of: pid)
            if status == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        if status == nil {
            kill(pid, SIGKILL)
            _ = ProcessSpawner.exitStatus(of: pid, wait: true)
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, output)
        let report = try JSONDecoder().decode(Report.self, from: try Data(contentsOf: URL(fileURLWithPath: json)))
        XCTAssertTrue(report.quick)
        XCTAssertNotNil(report.machine["cores"])
        let suites = Set(report.figures.map(\.suite))
        XCTAssertEqual(suites, ["crypto", "masking", "footprint", "dispatch", "kms", "faults"], output)
        for f in report.figures where f.figure != "binary size" {
            XCTAssertNotNil(f.reference, "\(f.suite)/\(f.figure) has no same-run reference")
            XCTAssertNotNil(f.ratio, "\(f.suite)/\(f.figure) has no ratio")
            XCTAssertGreaterThan(f.value, 0, "\(f.suite)/\(f.figure)")
            XCTAssertGreaterThan(f.runs, 0)
        }
        // The table printed on stdout names every figure too.
        for f in report.figures { XCTAssertTrue(output.contains(String(f.figure.prefix(40))), f.figure) }
    }
}
