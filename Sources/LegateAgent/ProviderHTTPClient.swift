import AsyncHTTPClient
import Foundation
import KeyProviders
import LegateCore
import NIOCore
import NIOHTTP1
import NIOSSL

/// The HTTP transport drivers use to reach providers (KMS, STS, Vault, …), with the agent's proxy
/// and CA settings: `https` goes through HTTPS_PROXY unless NO_PROXY exempts the host; plain
/// `http` (allowed only to loopback and link-local credential endpoints such as IMDS) never does.
/// Trust: the system roots plus the configured `ca_file` (a TLS-inspecting proxy's CA, say).
public final class ProviderHTTPClient: HTTPTransport {
    let direct: HTTPClient
    let proxied: HTTPClient?
    let noProxy: String?
    /// Responses larger than this are refused; provider answers are small.
    static let maximumBody = 4 << 20

    public init(configuration: AgentConfiguration) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.shutdownTimeout = .milliseconds(500)
        if let ca = configuration.caFile {
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(ca))]
            } catch {
                throw ConfigurationError(code: "tls_configuration", "Cannot load ca_file '\(ca)' for provider connections: \(error). Give a PEM file.")
            }
        }
        func make(_ proxy: HTTPClient.Configuration.Proxy?) -> HTTPClient {
            var c = HTTPClient.Configuration(tlsConfiguration: tls, timeout: .init(connect: .seconds(5), read: .seconds(60)), proxy: proxy)
            c.connectionPool = .init(idleTimeout: .seconds(60))
            c.connectionPool.retryConnectionEstablishment = false
            c.httpVersion = .http1Only
            return HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
        }
        self.direct = make(nil)
        // Validated against a placeholder host: NO_PROXY is applied per request below.
        if let p = try ProxySettings.resolve(httpsProxy: configuration.httpsProxy, noProxy: nil, for: "provider.invalid") {
            self.proxied = make(
                .server(
                    host: p.host, port: p.port,
                    authorization: p.username.map { .basic(username: $0, password: p.password?.unsafeValue ?? "") }))
        } else {
            self.proxied = nil
        }
        self.noProxy = configuration.noProxy
    }

    public func shutdown() async {
        try? await direct.shutdown()
        try? await proxied?.shutdown()
    }

    func client(for url: String) -> HTTPClient {
        guard let proxied, let u = URLComponents(string: url), u.scheme?.lowercased() == "https", let host = u.host else { return direct }
        if let noProxy, ProxySettings.bypass(host: host, noProxy: noProxy) { return direct }
        return proxied
    }

    public func send(_ request: ProviderHTTPRequest, timeout: Duration) async throws -> ProviderHTTPResponse {
        var r = HTTPClientRequest(url: request.url)
        r.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { r.headers.add(name: name, value: value) }
        if !r.headers.contains(name: "User-Agent") { r.headers.add(name: "User-Agent", value: "legate/\(LegateVersion.current)") }
        if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
            r.body = .bytes(ByteBuffer(bytes: request.body))
        }
        let host = URLComponents(string: request.url)?.host ?? request.url
        do {
            let response = try await client(for: request.url).execute(r, timeout: .nanoseconds(Int64(timeout.milliseconds) * 1_000_000))
            var body = try await response.body.collect(upTo: Self.maximumBody)
            return ProviderHTTPResponse(
                status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                body: body.readBytes(length: body.readableBytes) ?? [])
        } catch is CancellationError {
            throw CancellationError()
        } catch let e as NIOSSLError {
            throw ProviderError.configuration(
                "provider_tls", "TLS to \(host) failed (\(e)). Check the endpoint and, behind a TLS-inspecting proxy, set ca_file to its CA.")
        } catch let e as BoringSSLError {
            throw ProviderError.configuration(
                "provider_tls", "TLS to \(host) failed (\(e)). Check the endpoint and, behind a TLS-inspecting proxy, set ca_file to its CA.")
        } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
            throw ProviderError.transient("provider_timeout", "\(request.method) to \(host) timed out after \(timeout); retrying.")
        } catch let e as NIOTooManyBytesError {
            _ = e
            throw ProviderError.transient("provider_response_too_large", "\(host) answered with more than \(Self.maximumBody) bytes.")
        } catch {
            throw ProviderError.transient("provider_unreachable", "Cannot reach \(host): \(error).")
        }
    }
}
