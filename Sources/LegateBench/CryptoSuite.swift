import Crypto
import Foundation
import LegateCrypto

/// Envelope seal/open throughput versus `openssl speed -evp aes-256-gcm` at the same sizes.
enum CryptoSuite {
    static func run(quick: Bool) throws -> [BenchFigure] {
        var figures: [BenchFigure] = []
        let seconds = quick ? 0.3 : 1.5
        for size in [1 << 10, 16 << 10, 1 << 20] {
            let plaintext = SecretBytes((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let identity = SecretIdentity(scope: "bench", name: "value", version: 1)
            let key = DataKey.generate()
            let wrapped = [UInt8](repeating: 7, count: 60)
            let sealed = try Envelope.seal(plaintext, identity: identity, connectorId: "c_bench", keyRef: "default", keyVersion: 1, dataKey: key, wrappedKey: wrapped)

            let sealRate = try rate(seconds: seconds, bytes: size) {
                _ = try Envelope.seal(plaintext, identity: identity, connectorId: "c_bench", keyRef: "default", keyVersion: 1, dataKey: key, wrappedKey: wrapped)
            }
            let openRate = try rate(seconds: seconds, bytes: size) {
                _ = try Envelope.open(sealed, identity: identity, dataKey: key)
            }
            let reference = openssl(size: size, seconds: quick ? 1 : 3)
            let label = size >= 1 << 20 ? "\(size >> 20) MiB" : "\(size >> 10) KiB"
            figures.append(BenchFigure(
                suite: "crypto", figure: "envelope seal, \(label) values", unit: "MB/s", value: sealRate, reference: reference,
                referenceName: "openssl aes-256-gcm", higherIsBetter: true, runs: 1, target: "≥ 0.8× openssl"))
            figures.append(BenchFigure(
                suite: "crypto", figure: "envelope open, \(label) values", unit: "MB/s", value: openRate, reference: reference,
                referenceName: "openssl aes-256-gcm", higherIsBetter: true, runs: 1, target: "≥ 0.8× openssl"))
        }
        return figures
    }

    static func rate(seconds: Double, bytes: Int, _ body: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var n = 0
        while (clock.now - start).seconds < seconds {
            try body()
            n += 1
        }
        return Double(n * bytes) / (clock.now - start).seconds / 1e6
    }

    /// openssl's figure in MB/s (its output is in 1000s of bytes per second), or nil if absent.
    static func openssl(size: Int, seconds: Int) -> Double? {
        guard let path = Stats.which("openssl"),
            let (out, _) = try? Stats.run(path, ["speed", "-evp", "aes-256-gcm", "-bytes", "\(size)", "-seconds", "\(seconds)"])
        else { return nil }
        guard let line = out.split(separator: "\n").last(where: { $0.lowercased().hasPrefix("aes-256-gcm") }),
            let last = line.split(separator: " ").last, last.hasSuffix("k"), let k = Double(last.dropLast())
        else { return nil }
        return k * 1000 / 1e6
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
