import Foundation
import LegateCore

/// One measured figure with the reference measured in the same run.
public struct BenchFigure: Codable, Sendable {
    public var suite: String
    public var figure: String
    public var unit: String
    public var value: Double
    public var reference: Double?
    public var referenceName: String?
    /// value / reference; > 1 is better for rates, < 1 is better for costs (see `higherIsBetter`).
    public var ratio: Double?
    public var higherIsBetter: Bool
    public var runs: Int
    public var target: String?

    init(suite: String, figure: String, unit: String, value: Double, reference: Double?, referenceName: String?,
         higherIsBetter: Bool, runs: Int, target: String? = nil) {
        self.suite = suite
        self.figure = figure
        self.unit = unit
        self.value = value
        self.reference = reference
        self.referenceName = referenceName
        self.ratio = reference.flatMap { $0 > 0 ? value / $0 : nil }
        self.higherIsBetter = higherIsBetter
        self.runs = runs
        self.target = target
    }
}

public struct BenchReport: Codable, Sendable {
    public var date: String
    public var machine: [String: String]
    public var quick: Bool
    public var figures: [BenchFigure]

    public func table() -> String {
        var lines = ["suite      figure                                        value          reference                         ratio   target"]
        for f in figures {
            let v = Self.fmt(f.value) + " " + f.unit
            let r = f.reference.map { Self.fmt($0) + " (" + (f.referenceName ?? "") + ")" } ?? "-"
            let ratio = f.ratio.map { String(format: "%.2f×", $0) } ?? "-"
            lines.append(
                f.suite.padding(toLength: 10, withPad: " ", startingAt: 0) + " "
                    + f.figure.padding(toLength: 45, withPad: " ", startingAt: 0) + " "
                    + v.padding(toLength: 14, withPad: " ", startingAt: 0) + " "
                    + r.padding(toLength: 33, withPad: " ", startingAt: 0) + " "
                    + ratio.padding(toLength: 7, withPad: " ", startingAt: 0) + " " + (f.target ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    static func fmt(_ v: Double) -> String {
        if v >= 100 { return String(format: "%.0f", v) }
        if v >= 10 { return String(format: "%.1f", v) }
        return String(format: "%.2f", v)
    }

    static func machineInfo() -> [String: String] {
        var info: [String: String] = ["cores": "\(ProcessInfo.processInfo.activeProcessorCount)"]
        info["memory_gib"] = String(format: "%.1f", Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824)
        if let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first(where: { $0.hasPrefix("model name") })?.split(separator: ":").last
        {
            info["cpu"] = cpu.trimmingCharacters(in: .whitespaces)
        }
        info["os"] = ProcessInfo.processInfo.operatingSystemVersionString
        return info
    }
}

/// Small statistics and process helpers for the suites.
enum Stats {
    static func median(_ xs: [Double]) -> Double { percentile(xs, 0.5) }

    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        let i = min(s.count - 1, max(0, Int((Double(s.count - 1) * p).rounded())))
        return s[i]
    }

    /// Runs a command, returning stdout and the wall time. (`openssl speed` times itself with
    /// SIGALRM, which this process blocks: ProcessSpawner gives the child a clean signal state.)
    static func run(_ path: String, _ args: [String]) throws -> (String, Duration) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("legate-bench-out-\(UUID().uuidString)").path
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BenchError("cannot create \(out)") }
        defer { unlink(out) }
        let clock = ContinuousClock()
        let start = clock.now
        let pid: pid_t
        do {
            pid = try ProcessSpawner.spawn(argv: [path] + args, environment: ProcessInfo.processInfo.environment, stdout: fd)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        _ = ProcessSpawner.exitStatus(of: pid, wait: true)
        let elapsed = clock.now - start
        return ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "", elapsed)
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// VmRSS and VmHWM of a process, in MiB.
    static func memory(pid: Int32) -> (rss: Double, peak: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kb(_ key: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return nil }
            return Double(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "")
        }
        guard let rss = kb("VmRSS:"), let hwm = kb("VmHWM:") else { return nil }
        return (rss / 1024, hwm / 1024)
    }
}
