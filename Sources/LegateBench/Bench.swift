import Foundation

/// `legate bench`: runs the suites and returns the report. Every figure carries a reference
/// measured in the same run, so results from noisy shared machines can be compared as ratios.
public enum Bench {
    public static let suites = ["crypto", "masking", "footprint", "dispatch", "kms", "faults"]

    public static func run(suites selected: [String], quick: Bool, executable: String, progress: (String) -> Void) async throws -> BenchReport {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("legate-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var figures: [BenchFigure] = []
        for suite in selected {
            progress("running \(suite)…")
            switch suite {
            case "crypto": figures += try CryptoSuite.run(quick: quick)
            case "masking": figures += try MaskingSuite.run(quick: quick, workDir: dir)
            case "footprint": figures += try await FootprintSuite.run(quick: quick, dir: dir + "/footprint", executable: executable)
            case "dispatch": figures += try await DispatchSuite.run(quick: quick, dir: dir + "/dispatch")
            case "kms": figures += try await KMSSuite.run(quick: quick, dir: dir + "/kms", progress: progress)
            case "faults": figures += try await FaultsSuite.run(quick: quick, dir: dir + "/faults", executable: executable)
            default: throw BenchError("unknown suite '\(suite)'; suites: \(suites.joined(separator: ", "))")
            }
        }
        return BenchReport(date: ISO8601DateFormatter().string(from: Date()), machine: BenchReport.machineInfo(), quick: quick, figures: figures)
    }
}
