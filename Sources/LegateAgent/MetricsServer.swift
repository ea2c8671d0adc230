import LegateCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves `GET /metrics` (Prometheus text format) on a loopback address, as a `Service`.
///
/// A few dozen lines of NIOHTTP1 rather than Hummingbird: the agent needs one read-only route, and
/// the agent library should not depend on a web framework (docs/decisions.md).
public struct MetricsServer: Service {
    /// The endpoint could not be opened.
    public struct Failure: LegateError {
        public let code = "metrics_unavailable"
        public let message: String
        public var origin: ErrorOrigin { .configuration }
        public var persistence: ErrorPersistence { .permanent }
    }

    let address: MetricsAddress
    let metrics: AgentMetrics
    let logger: Logger
    let onBound: @Sendable (String) -> Void

    /// `onBound` receives the bound `host:port` (useful with port 0).
    public init(address: MetricsAddress, metrics: AgentMetrics, logger: Logger, onBound: @escaping @Sendable (String) -> Void = { _ in }) {
        self.address = address
        self.metrics = metrics
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let metrics = self.metrics
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        } catch {
            throw Failure(message: "Cannot serve metrics on \(address): \(error). Choose a free port for metrics_listen.")
        }
        let bound = channel.localAddress.flatMap { a in a.port.map { MetricsAddress.format(host: address.host, port: $0) } } ?? "\(address)"
        logger.info("serving Prometheus metrics", metadata: ["address": "http://\(bound)/metrics"])
        onBound(bound)
        // Stops on graceful shutdown or cancellation (the agent service ending cancels the group).
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await channel.closeFuture.get()
            } onGracefulShutdown: {
                channel.close(promise: nil)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}

/// One HTTP/1.1 connection: `GET /metrics` renders, anything else is 404/405.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let metrics: AgentMetrics
    private var head: HTTPRequestHead?

    init(metrics: AgentMetrics) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            respond(to: h, context: context)
        }
    }

    private func respond(to h: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = h.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? h.uri
        let status: HTTPResponseStatus
        let body: [UInt8]
        var type = "text/plain; charset=utf-8"
        if path != "/metrics" {
            status = .notFound
            body = Array("Not found; metrics are at /metrics\n".utf8)
        } else if h.method != .GET && h.method != .HEAD {
            status = .methodNotAllowed
            body = Array("Only GET\n".utf8)
        } else {
            status = .ok
            body = metrics.render()
            type = "text/plain; version=0.0.4; charset=utf-8"
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = h.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
        if h.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
