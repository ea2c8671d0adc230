import Foundation
import Hummingbird
import LegateCore
import LegateWire
import Logging
import NIOSSL
import ServiceLifecycle

/// Everything `legate-manager serve` needs to know.
public struct ManagerConfiguration: Sendable {
    public var stateDirectory: String
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests, demo).
    public var port = 8443
    /// PEM files; when both are nil a development CA and certificate are created in the state dir.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// When set, agents must present a client certificate signed by this CA (mTLS).
    public var clientCA: String?
    /// Extra names for the generated server certificate (beyond localhost and loopback).
    public var certificateHostnames: [String] = []
    public var settings = ManagerSettings()

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }
}

/// A ready-to-run manager: the HTTP application and the lost-delegate reaper, as services.
public final class ManagerRuntime: Sendable {
    public let core: ManagerCore
    public let services: [any Service]
    /// The CA agents must trust: the generated dev CA, or nil when the operator gave a certificate.
    public let caCertificatePath: String?
    /// File holding the first admin API key (0600), created on first start.
    public let adminKeyPath: String
    private let boundPort: PortBox

    public static func make(_ config: ManagerConfiguration, logger: Logger) async throws -> ManagerRuntime {
        try FileIO.makeDirectory(config.stateDirectory, mode: 0o700)
        let store = try await ManagerStore.open(path: config.stateDirectory + "/manager.sqlite", logger: logger)
        do {
            return try await make(config, store: store, logger: logger)
        } catch {
            await store.close()
            throw error
        }
    }

    private static func make(_ config: ManagerConfiguration, store: ManagerStore, logger: Logger) async throws -> ManagerRuntime {
        let credentials = try Credentials.load(stateDirectory: config.stateDirectory)
        let core = ManagerCore(store: store, credentials: credentials, settings: config.settings, logger: logger)

        let purged = try await store.purgePendingSecrets()
        if purged > 0 {
            logger.warning("removed secrets whose value was never sealed before the last stop; create them again", metadata: ["count": "\(purged)"])
        }
        let adminKeyPath = config.stateDirectory + "/admin.key"
        if try await store.tokens(kind: Credentials.Kind.admin.rawValue).isEmpty {
            let key = try await core.createToken(name: "bootstrap", kind: .admin)
            try FileIO.write(key.token + "\n", to: adminKeyPath, mode: 0o600)
            logger.notice("admin API key created", metadata: ["path": "\(adminKeyPath)"])
        }

        let tls: TLSConfiguration
        var caPath: String?
        switch (config.tlsCertificate, config.tlsKey) {
        case (let cert?, let key?):
            tls = try makeServerTLS(certificate: cert, key: key, clientCA: config.clientCA)
        case (nil, nil):
            let (paths, created) = try DevCertificateAuthority.ensure(
                stateDirectory: config.stateDirectory, hostnames: config.certificateHostnames + [config.host])
            if created { logger.notice("development CA created", metadata: ["ca": "\(paths.caCertificate)"]) }
            tls = try makeServerTLS(certificate: paths.serverCertificate, key: paths.serverKey, clientCA: config.clientCA)
            caPath = paths.caCertificate
        default:
            throw ConfigurationError("Give both --tls-cert and --tls-key, or neither to use a generated development CA.")
        }

        let box = PortBox()
        let app = try ManagerServer.makeApplication(
            core: core, host: config.host, port: config.port, tls: tls, logger: logger,
            onRunning: { port in await box.set(port) })
        let reaper = LostDelegateReaper(core: core, interval: config.settings.heartbeatInterval / 2, logger: logger)
        return ManagerRuntime(core: core, services: [StoreService(store: store), app, reaper], caCertificatePath: caPath, adminKeyPath: adminKeyPath, boundPort: box)
    }

    private init(core: ManagerCore, services: [any Service], caCertificatePath: String?, adminKeyPath: String, boundPort: PortBox) {
        self.core = core
        self.services = services
        self.caCertificatePath = caCertificatePath
        self.adminKeyPath = adminKeyPath
        self.boundPort = boundPort
    }

    /// The port the server listens on, once it does.
    public func port() async -> Int { await boundPort.get() }

    static func makeServerTLS(certificate: String, key: String, clientCA: String?) throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(privateKey))
            tls.minimumTLSVersion = .tlsv12
            tls.shutdownTimeout = .milliseconds(500)
            if let clientCA {
                tls.certificateVerification = .noHostnameVerification
                tls.trustRoots = .file(clientCA)
            }
            return tls
        } catch {
            throw ConfigurationError(
                code: "tls_configuration",
                "Cannot load the TLS certificate \(certificate) or key \(key): \(error). Give PEM files readable by the manager.")
        }
    }
}

/// Holds the bound port and lets callers wait for it.
public actor PortBox {
    private var port: Int?
    private var waiters: [CheckedContinuation<Int, Never>] = []

    public init() {}

    public func set(_ p: Int) {
        port = p
        for w in waiters { w.resume(returning: p) }
        waiters = []
    }

    public func get() async -> Int {
        if let port { return port }
        return await withCheckedContinuation { waiters.append($0) }
    }
}

/// Periodically declares silent delegates lost and re-queues their retryable tasks.
struct LostDelegateReaper: Service {
    let core: ManagerCore
    let interval: Duration
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await core.reap() } catch { logger.error("reaper failed", metadata: ["error": "\(error)"]) }
                try await Task.sleep(for: interval)
            }
        }
    }
}

/// Owns the database's lifetime: closes it on shutdown, after the services listed after it have stopped.
struct StoreService: Service {
    let store: ManagerStore

    func run() async throws {
        try? await gracefulShutdown()
        await store.close()
    }
}
