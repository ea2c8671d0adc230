import HummingbirdWebSocket
import LegateWire

extension ManagerCore {
    /// Serves one delegate stream until either side closes it: pushes mailbox messages out, answers
    /// heartbeats, and reports bad frames back as `error` messages without closing.
    func runStream(delegateId: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        await hub.streamOpened(delegateId)
        logger.debug("stream opened", metadata: ["delegate.id": "\(delegateId)"])
        let hello = StreamMessage.hello(heartbeatIntervalMs: Int(settings.heartbeatInterval.milliseconds))
        if await hub.policy == .open { try? await outbound.write(.text(hello.text())) }
        try? await seedNotices(delegateId: delegateId, limit: 64)
        let waiter = await hub.makeWaiterId()

        enum Side { case writer, reader }
        await withTaskGroup(of: Side.self) { group in
            group.addTask {
                await self.streamWriter(delegateId: delegateId, waiter: waiter, outbound: outbound)
                return .writer
            }
            group.addTask {
                await self.streamReader(delegateId: delegateId, inbound: inbound, outbound: outbound)
                await self.hub.release(delegateId, waiter: waiter)
                return .reader
            }
            let first = await group.next()
            group.cancelAll()
            await self.hub.release(delegateId, waiter: waiter)
            if first == .writer {
                // The manager ended the stream (refused, revoked): close it so the reader ends too.
                // When the agent closed first, the close handshake is already done.
                try? await outbound.close(.goingAway, reason: "stream closed by manager")
            }
            await group.waitForAll()
        }
        await hub.streamClosed(delegateId)
        logger.debug("stream closed", metadata: ["delegate.id": "\(delegateId)"])
    }

    private func streamWriter(delegateId: String, waiter: UInt64, outbound: WebSocketOutboundWriter) async {
        while !Task.isCancelled {
            await hub.wait(delegateId, waiter: waiter)
            if Task.isCancelled { return }
            switch await hub.policy {
            case .refuse:
                try? await outbound.close(.goingAway, reason: "streams refused by manager")
                return
            case .silent:
                try? await Task.sleep(for: .milliseconds(100))
                continue
            case .open:
                break
            }
            for message in await hub.take(delegateId) {
                do { try await outbound.write(.text(message.text())) } catch { return }
                if case .error(let code, _) = message, code == APIError.revoked.code {
                    try? await outbound.close(.policyViolation, reason: "token revoked")
                    return
                }
            }
        }
    }

    private func streamReader(delegateId: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        do {
            for try await frame in inbound.messages(maxSize: WireProtocol.maxFrameBytes) {
                if await hub.policy == .silent { continue }
                guard case .text(let text) = frame else {
                    try await outbound.write(.text(StreamMessage.error(code: "bad_request", message: "Binary frames are not part of protocol v1; send JSON text frames.").text()))
                    continue
                }
                let message: StreamMessage
                do {
                    message = try StreamMessage.parse(text)
                } catch {
                    logger.info("bad stream message", metadata: ["delegate.id": "\(delegateId)", "error": "\(error.code)"])
                    try await outbound.write(.text(StreamMessage.error(code: error.code, message: error.message).text()))
                    continue
                }
                switch message {
                case .heartbeat(let hb):
                    do {
                        let ack = try await heartbeat(delegateId: delegateId, hb)
                        try await outbound.write(.text(StreamMessage.heartbeatAck(ack).text()))
                    } catch let e as APIError {
                        try await outbound.write(.text(StreamMessage.error(code: e.code, message: e.message).text()))
                    } catch {
                        logger.error("heartbeat failed", metadata: ["delegate.id": "\(delegateId)", "error": "\(error)"])
                        try await outbound.write(.text(StreamMessage.error(code: "internal", message: "The manager failed to record the heartbeat; see its log.").text()))
                    }
                default:
                    try await outbound.write(
                        .text(StreamMessage.error(code: "unexpected_message", message: "A delegate may not send '\(message.type)' messages.").text()))
                }
            }
        } catch {
            logger.debug("stream read ended", metadata: ["delegate.id": "\(delegateId)", "error": "\(error)"])
        }
    }
}
