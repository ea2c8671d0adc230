import Crypto
import Foundation
import KeyProviders
import LegateAgent
import LegateCrypto
import Logging
import ProviderAWS
import Synchronization

/// The AWS KMS driver against moto with signature checking on: KMS calls and wall time for
/// repeated decryptions of one secret with and without the data-key cache, and SigV4 signing
/// throughput against raw HMAC-SHA256 on the same machine.
enum KMSSuite {
    /// Counts requests per X-Amz-Target action on their way to the real transport.
    final class CountingTransport: HTTPTransport {
        let base: any HTTPTransport
        let counts = Mutex<[String: Int]>([:])
        init(_ base: any HTTPTransport) { self.base = base }
        func send(_ request: ProviderHTTPRequest, timeout: Duration) async throws -> ProviderHTTPResponse {
            let target = request.headers.first { $0.0.lowercased() == "x-amz-target" }?.1 ?? "other"
            counts.withLock { $0[String(target.split(separator: ".").last ?? "other"), default: 0] += 1 }
            return try await base.send(request, timeout: timeout)
        }
        func count(_ action: String) -> Int { counts.withLock { $0[action] ?? 0 } }
        func reset() { counts.withLock { $0 = [:] } }
    }

    struct Fixture: Decodable {
        var region: String
        var accessKeyId: String
        var secretAccessKey: String
        var keyArn: String
    }

    static func run(quick: Bool, dir: String, progress: (String) -> Void) async throws -> [BenchFigure] {
        let cwd = FileManager.default.currentDirectoryPath
        let bin = ProcessInfo.processInfo.environment["LEGATE_PEERS_BIN"] ?? cwd + "/.venv-peers/bin"
        let moto: MotoPeer
        do {
            moto = try await MotoPeer.start(peersBin: bin, fixtureScript: cwd + "/Tests/Peers/moto_fixture.py", workDir: dir)
        } catch let e as MotoPeer.Missing {
            progress("kms: skipped: \(e.description)")
            return []
        }
        defer { moto.stop() }
        let f = try JSONDecoder().decode(Fixture.self, from: moto.fixture)
        let http = try ProviderHTTPClient(configuration: AgentConfiguration())
        let transport = CountingTransport(http)
        var registry = ProviderRegistry()
        AWSDrivers.register(in: &registry)
        var logger = Logger(label: "bench-kms")
        logger.logLevel = .critical
        let context = ProviderContext(stateDirectory: dir, logger: logger, transport: transport, environment: ["AWS_EC2_METADATA_DISABLED": "true"])
        let reads = quick ? 100 : 1000
        var calls: [String: Double] = [:]
        var wall: [String: Double] = [:]
        do {
            for cache in ["on", "off"] {
                let d = ConnectorDescriptor(
                    id: "bench-kms", type: "awskms", config: ["region": f.region, "keyId": f.keyArn, "endpoint": moto.url, "dataKeyCache": cache],
                    credentials: ["accessKeyId": SecretBytes(utf8: f.accessKeyId), "secretAccessKey": SecretBytes(utf8: f.secretAccessKey)])
                let km = try registry.keyManager(d, context: context)
                let identity = SecretIdentity(scope: "bench", name: "hot", version: 1)
                let generated = try await km.generateDataKey(for: identity)
                transport.reset()
                let clock = ContinuousClock()
                let start = clock.now
                for _ in 0..<reads { _ = try await km.unwrapDataKey(generated.wrapped, for: identity) }
                wall[cache] = (clock.now - start).seconds * 1000 * 1000 / Double(reads)
                calls[cache] = Double(transport.count("Decrypt"))
            }
        } catch {
            await http.shutdown()
            throw error
        }
        await http.shutdown()

        // Signing throughput vs the HMAC-SHA256 it is built from (a signature costs 5 HMACs + 2 hashes).
        let signer = SigV4Signer(service: "kms", region: f.region)
        let creds = AWSCredentials(accessKeyId: f.accessKeyId, secretAccessKey: f.secretAccessKey, sessionToken: "session-token")
        let body = Array(#"{"CiphertextBlob":"AQIDAHhoaGVsbG8gd29ybGQgdGhpcyBpcyBhIHRlc3Q=","EncryptionContext":{"legate:name":"hot"}}"#.utf8)
        let headers = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "TrentService.Decrypt")]
        let n = quick ? 2000 : 20000
        let clock = ContinuousClock()
        var start = clock.now
        for _ in 0..<n {
            _ = try signer.sign(method: "POST", url: "https://kms.\(f.region).amazonaws.com/", headers: headers, body: body, credentials: creds, date: Date())
        }
        let signsPerSecond = Double(n) / (clock.now - start).seconds
        let key = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))
        start = clock.now
        for i in 0..<n {
            var mac = HMAC<SHA256>(key: key)
            mac.update(data: body)
            mac.update(data: [UInt8(truncatingIfNeeded: i)])
            _ = mac.finalize()
        }
        let hmacsPerSecond = Double(n) / (clock.now - start).seconds
        let per = "for \(reads) reads of one secret"
        return [
            BenchFigure(
                suite: "kms", figure: "KMS Decrypt calls \(per), cache on", unit: "calls", value: calls["on"] ?? 0, reference: calls["off"],
                referenceName: "cache off", higherIsBetter: false, runs: 1, target: "1 per TTL"),
            BenchFigure(
                suite: "kms", figure: "wall time \(per), cache on", unit: "ms", value: wall["on"] ?? 0, reference: wall["off"],
                referenceName: "cache off (moto, loopback)", higherIsBetter: false, runs: 1),
            BenchFigure(
                suite: "kms", figure: "SigV4 signatures/s (KMS Decrypt request)", unit: "sig/s", value: signsPerSecond, reference: hmacsPerSecond,
                referenceName: "HMAC-SHA256/s, same body", higherIsBetter: true, runs: n),
        ]
    }
}
