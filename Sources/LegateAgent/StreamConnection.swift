import HTTPTypes
import LegateCore
import LegateWire
import Logging
import NIOSSL
import Synchronization
import WSClient

/// One WebSocket stream to the manager (WSClient over NIO). Runs until the socket ends, reporting
/// through callbacks; the owner sends frames with ``send(_:)`` and ends it with ``close()``.
final class StreamConnection: Sendable {
    enum Event: Sendable {
        case connected
        case message(StreamMessage)
        /// A frame that could not be parsed; the stream stays up.
        case invalidFrame(String)
        case closed(String)
    }

    let generation: Int
    private let outbox: AsyncStream<String>
    private let outboxContinuation: AsyncStream<String>.Continuation

    init(generation: Int) {
        self.generation = generation
        (outbox, outboxContinuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(64))
    }

    func send(_ message: StreamMessage) { outboxContinuation.yield(message.text()) }

    /// Ends the stream: the writer sends a close frame and the reader finishes when the peer answers.
    func close() { outboxContinuation.finish() }

    func run(
        url: String, session: Redacted<String>, tls: TLSConfiguration, proxy: ProxySettings?, logger: Logger,
        onEvent: @escaping @Sendable (Event) -> Void
    ) async {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer " + session.unsafeValue
        headers[.userAgent] = "legate/\(LegateVersion.current)"
        let config = WebSocketClientConfiguration(
            maxFrameSize: WireProtocol.maxFrameBytes, additionalHeaders: headers, closeTimeout: .seconds(2))
        let outbox = self.outbox
        let handler: WebSocketDataHandler<WebSocketClient.Context> = { inbound, outbound, _ in
            onEvent(.connected)
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await text in outbox {
                        do { try await outbound.write(.text(text)) } catch { break }
                    }
                    try? await outbound.close(.normalClosure, reason: "agent closing stream")
                }
                group.addTask {
                    do {
                        for try await frame in inbound.messages(maxSize: WireProtocol.maxFrameBytes) {
                            guard case .text(let text) = frame else {
                                onEvent(.invalidFrame("binary frame"))
                                continue
                            }
                            do {
                                onEvent(.message(try StreamMessage.parse(text)))
                            } catch let e as WireError {
                                onEvent(.invalidFrame(e.message))
                            } catch {
                                onEvent(.invalidFrame("\(error)"))
                            }
                        }
                    } catch {}
                }
                await group.next()
                // Either side ended: make sure the other ends too.
                self.outboxContinuation.finish()
                group.cancelAll()
            }
        }
        let client: WebSocketClient
        if let proxy {
            var connectHeaders = HTTPFields()
            if let user = proxy.username {
                let raw = Array("\(user):\(proxy.password?.unsafeValue ?? "")".utf8)
                connectHeaders[.proxyAuthorization] = "Basic " + Base64.encode(raw)
            }
            client = WebSocketClient(
                url: url, configuration: config, tlsConfiguration: tls,
                proxySettings: .init(host: proxy.host, port: proxy.port, type: .http(connectHeaders: connectHeaders)),
                logger: logger, handler: handler)
        } else {
            client = WebSocketClient(url: url, configuration: config, tlsConfiguration: tls, logger: logger, handler: handler)
        }
        do {
            let frame = try await client.run()
            onEvent(.closed("closed by manager (code \(frame.map { "\($0.closeCode)" } ?? "none"))"))
        } catch {
            onEvent(.closed(ManagerClient.short(String(describing: error))))
        }
    }
}

/// Standard padded base64 (for the proxy Basic header).
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        var s = Identifiers.base64URL(bytes).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return s
    }
}
