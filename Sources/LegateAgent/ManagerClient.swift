import AsyncHTTPClient
import Foundation
import LegateCore
import LegateWire
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A failed call to the manager, classified for the retry loops and worded for the operator.
public struct ClientError: LegateError {
    public enum Kind: Sendable, Equatable {
        /// The delegate token or session is not accepted; `code` says which (re-register on session_*).
        case unauthorized
        /// The delegate token was revoked: drain and exit.
        case revoked
        case conflict
        case notFound
        case rejected
        case server
        case network
        case tls
        case cancelled
    }

    public let kind: Kind
    public let code: String
    public let message: String
    public var status: Int?

    public var origin: ErrorOrigin {
        switch kind {
        case .tls, .unauthorized, .revoked, .rejected: .configuration
        default: .external
        }
    }

    public var persistence: ErrorPersistence {
        switch kind {
        case .server, .network: .transient
        default: .permanent
        }
    }

    /// The session (not the delegate token) is no longer accepted: register again.
    /// Any error from a manager call, as a ClientError (unexpected ones count as network failures).
    static func wrap(_ error: any Error) -> ClientError {
        if let e = error as? ClientError { return e }
        if error is CancellationError { return ClientError(kind: .cancelled, code: "cancelled", message: "Cancelled.") }
        return ClientError(kind: .network, code: "unexpected", message: "\(error)")
    }

    public var needsRegistration: Bool {
        kind == .unauthorized && ["session_expired", "session_invalid", "delegate_unknown"].contains(code)
    }
}

/// Typed calls to the manager's delegate endpoints over HTTPS (AsyncHTTPClient), honouring the
/// custom CA, client certificate and proxy of the configuration. Tokens go in headers only.
public final class ManagerClient: Sendable {
    public let endpoint: ManagerEndpoint
    let http: HTTPClient
    let requestTimeout: Duration
    let logger: Logger

    public init(config: AgentConfiguration.Validated, tls: TLSConfiguration, logger: Logger, requestTimeout: Duration = .seconds(30)) {
        self.endpoint = config.manager
        var c = HTTPClient.Configuration(
            tlsConfiguration: tls,
            timeout: .init(connect: .seconds(10), read: .seconds(60)),
            proxy: config.proxy.map { p in
                .server(
                    host: p.host, port: p.port,
                    authorization: p.username.map { .basic(username: $0, password: p.password?.unsafeValue ?? "") })
            })
        c.httpVersion = .http1Only
        // Our own loops retry with backoff and see each failure (a TLS error must surface at once).
        c.connectionPool = .init(idleTimeout: .seconds(60))
        c.connectionPool.retryConnectionEstablishment = false
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: Endpoints

    public func register(_ request: RegisterRequest, token: Redacted<String>) async throws(ClientError) -> RegisterResponse {
        try await call(.POST, "/delegates/register", body: request, bearer: token, delegateId: nil)
    }

    public func refreshSession(delegateId: String, session: Redacted<String>) async throws(ClientError) -> SessionResponse {
        try await call(.POST, "/delegates/\(delegateId)/session", body: Optional<Int>.none, bearer: session, delegateId: nil)
    }

    public func heartbeat(_ hb: Heartbeat, delegateId: String, session: Redacted<String>) async throws(ClientError) -> HeartbeatAck {
        try await call(.POST, "/delegates/\(delegateId)/heartbeat", body: hb, bearer: session, delegateId: nil)
    }

    public func poll(delegateId: String, session: Redacted<String>, wait: Duration) async throws(ClientError) -> NoticeBatch {
        try await call(
            .GET, "/delegates/\(delegateId)/notices?waitMs=\(wait.milliseconds)", body: Optional<Int>.none, bearer: session,
            delegateId: nil, timeout: wait + requestTimeout)
    }

    public func acquire(taskId: String, delegateId: String, session: Redacted<String>) async throws(ClientError) -> TaskPackage {
        try await call(.POST, "/tasks/\(taskId)/acquire", body: AcquireRequest(delegateId: delegateId), bearer: session, delegateId: nil)
    }

    public func sendLogs(_ batch: LogBatch, taskId: String, delegateId: String, session: Redacted<String>) async throws(ClientError) -> LogBatchResponse {
        try await call(.POST, "/tasks/\(taskId)/logs", body: batch, bearer: session, delegateId: delegateId)
    }

    public func sendResult(_ result: TaskResult, taskId: String, delegateId: String, session: Redacted<String>) async throws(ClientError) -> ResultResponse {
        try await call(.POST, "/tasks/\(taskId)/result", body: result, bearer: session, delegateId: delegateId)
    }

    // MARK: Transport

    private func call<Body: Encodable, Response: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Body?, bearer: Redacted<String>, delegateId: String?,
        timeout: Duration? = nil
    ) async throws(ClientError) -> Response {
        var request = HTTPClientRequest(url: endpoint.baseURL + WireProtocol.apiPrefix + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer " + bearer.unsafeValue)
        request.headers.add(name: "User-Agent", value: "legate/\(LegateVersion.current)")
        if let delegateId { request.headers.add(name: "Legate-Delegate-Id", value: delegateId) }
        if let body {
            guard let data = try? WireCoding.encode(body) else {
                throw ClientError(kind: .rejected, code: "encoding", message: "Could not encode the request to \(path).")
            }
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let what = "\(method.rawValue) \(path.split(separator: "?").first ?? "")"
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .init(timeout ?? requestTimeout))
            bytes = try await response.body.collect(upTo: WireProtocol.maxMessageBytes)
        } catch {
            throw classify(error, what: what)
        }
        let data = Data(bytes.readableBytesView)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = try? WireCoding.decoder().decode(ErrorBody.self, from: data)
            let code = body?.error.code ?? "http_\(status)"
            let message = body?.error.message ?? "The manager answered \(what) with HTTP \(status)."
            let kind: ClientError.Kind =
                switch status {
                case 401: code == "token_revoked" ? .revoked : .unauthorized
                case 404: .notFound
                case 409: .conflict
                case 408, 429, 500...599: .server
                default: .rejected
                }
            throw ClientError(kind: kind, code: code, message: message, status: status)
        }
        do {
            return try WireCoding.decode(Response.self, from: data, what: "manager response to \(what)")
        } catch {
            throw ClientError(kind: .server, code: error.code, message: error.message, status: status)
        }
    }

    func classify(_ error: any Error, what: String) -> ClientError {
        if error is CancellationError {
            return ClientError(kind: .cancelled, code: "cancelled", message: "\(what) was cancelled.")
        }
        let text = String(describing: error)
        let target = "\(endpoint.host):\(endpoint.port)"
        if error is NIOSSLError || error is BoringSSLError || text.contains("CERTIFICATE_VERIFY_FAILED")
            || text.contains("handshakeFailed")
        {
            return ClientError(
                kind: .tls, code: "tls_untrusted",
                message: "TLS handshake with the manager at \(target) failed (\(Self.short(text))). If the manager uses a private or development CA, set ca_file (LEGATE_CA_FILE) to its CA certificate; check the certificate names \(endpoint.host); if the manager requires client certificates (mTLS), set client_cert_file and client_key_file.")
        }
        if let e = error as? HTTPClientError, e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
            return ClientError(kind: .network, code: "timeout", message: "\(what) to the manager at \(target) timed out; will retry.")
        }
        return ClientError(
            kind: .network, code: "unreachable",
            message: "Cannot reach the manager at \(target) (\(Self.short(text))); check the URL, firewall and proxy settings. Will retry.")
    }

    static func short(_ s: String) -> String { s.count > 200 ? String(s.prefix(200)) + "…" : s }
}

/// TLS settings shared by the HTTPS client and the WebSocket client.
public enum AgentTLS {
    public static func make(_ config: AgentConfiguration) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        // Closing a stream waits for the peer's close_notify; NIOSSL's default of 5 s stalls shutdown.
        tls.shutdownTimeout = .milliseconds(500)
        do {
            if let ca = config.caFile {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(ca))]
            }
            if let cert = config.clientCertificateFile, let key = config.clientKeyFile {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
        } catch {
            throw ConfigurationError(code: "tls_configuration", "Cannot load TLS files (ca_file / client_cert_file / client_key_file): \(error). Give PEM files.")
        }
        return tls
    }
}

/// The version string agents report; set at build time by the release scripts when available.
public enum LegateVersion {
    public static let current = "0.1.0"
}
