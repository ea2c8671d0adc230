import ArgumentParser
import Foundation
import LegateBench
import LegateWire

/// `legate bench`: the benchmark harness (build with -c release for meaningful figures).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Legate against same-run references: \(Bench.suites.joined(separator: ", ")).",
        discussion: "Run a release build: swift run -c release legate bench [--quick]. See BENCHMARKS.md.")

    @Argument(help: "Suites to run (default: all).")
    var suites: [String] = []
    @Option(help: "Also write the report as JSON to this file.")
    var json: String?
    @Flag(help: "Small inputs and single runs (under 2 minutes); proves the harness works.")
    var quick = false

    func run() async throws {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let report = try await Bench.run(suites: suites.isEmpty ? Bench.suites : suites, quick: quick, executable: exe) {
            FileHandle.standardError.write(Data(($0 + "\n").utf8))
        }
        print(report.table())
        if let json {
            let e = WireCoding.encoder()
            e.outputFormatting.insert(.prettyPrinted)
            try e.encode(report).write(to: URL(fileURLWithPath: json))
        }
    }
}
