import Foundation
import LegateCore
import LegateMasking

/// Masking throughput over a synthetic log with 10/100/1,000 secrets (each with its encodings),
/// versus `grep -F -c -f` (raw secrets only) on the same file, and a naive per-secret replace loop.
enum MaskingSuite {
    static func run(quick: Bool, workDir: String) throws -> [BenchFigure] {
        let size = quick ? 8 << 20 : 100 << 20
        var rng = SplitMix64(seed: 42)
        var figures: [BenchFigure] = []
        for count in [10, 100, 1000] {
            let secrets = (0..<count).map { _ in "sk-" + String((0..<24).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &rng) ?? "x" }) }
            let log = makeLog(size: size, secrets: secrets, rng: &rng)
            let file = workDir + "/masking-\(count).log"
            let patterns = workDir + "/patterns-\(count).txt"
            try Data(log).write(to: URL(fileURLWithPath: file))
            try secrets.joined(separator: "\n").write(toFile: patterns, atomically: true, encoding: .utf8)

            let masker = SecretMasker(secrets: secrets)
            var rates: [Double] = []
            for _ in 0..<(quick ? 1 : 3) {
                let clock = ContinuousClock()
                let start = clock.now
                var stream = masker.makeStream()
                var out = 0
                var i = 0
                let chunk = 64 << 10
                while i < log.count {
                    out &+= stream.process(Array(log[i..<min(i + chunk, log.count)])).count
                    i += chunk
                }
                out &+= stream.finish().count
                rates.append(Double(log.count) / (clock.now - start).seconds / 1e6)
                if out == 0 { rates.append(0) }
            }
            var grepRate: Double?
            if let grep = Stats.which("grep") {
                var gs: [Double] = []
                for _ in 0..<(quick ? 1 : 3) {
                    if let (_, t) = try? Stats.run(grep, ["-c", "-F", "-f", patterns, file]) { gs.append(Double(log.count) / t.seconds / 1e6) }
                }
                grepRate = gs.isEmpty ? nil : Stats.median(gs)
            }
            figures.append(BenchFigure(
                suite: "masking", figure: "streaming mask, \(count) secrets", unit: "MB/s", value: Stats.median(rates),
                reference: grepRate, referenceName: "grep -F -c -f", higherIsBetter: true, runs: rates.count,
                target: "≥ 0.5× grep, flat in secrets"))
            // The peer approach: replace each secret in turn (cost grows with the number of secrets).
            let sample = Array(log.prefix(1 << 20))
            let clock = ContinuousClock()
            let start = clock.now
            var text = String(decoding: sample, as: UTF8.self)
            for s in secrets { text = text.replacingOccurrences(of: s, with: "***") }
            let naive = Double(sample.count) / (clock.now - start).seconds / 1e6
            figures.append(BenchFigure(
                suite: "masking", figure: "naive replace loop, \(count) secrets", unit: "MB/s", value: naive,
                reference: Stats.median(rates), referenceName: "streaming mask", higherIsBetter: true, runs: 1))
            try? FileManager.default.removeItem(atPath: file)
        }
        return figures
    }

    /// Log-like lines; about one line in 50 carries a secret (raw or base64).
    static func makeLog(size: Int, secrets: [String], rng: inout SplitMix64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size + 256)
        let words = ["GET", "/api/v1/items", "200", "OK", "user=alice", "took", "12ms", "INFO", "worker", "started", "cache", "miss"]
        var n = 0
        while out.count < size {
            n += 1
            var line = "2026-11-24T07:00:00Z"
            for _ in 0..<8 { line += " " + (words.randomElement(using: &rng) ?? "x") }
            if n % 50 == 0, let s = secrets.randomElement(using: &rng) {
                line += n % 100 == 0 ? " token=" + s : " auth=" + Data(("Bearer " + s).utf8).base64EncodedString()
            }
            out += Array((line + "\n").utf8)
        }
        return out
    }
}

