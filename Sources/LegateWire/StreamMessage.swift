import Foundation

/// One message on the delegate stream (a WebSocket text frame), also used in poll responses.
///
/// Encoded as a flat JSON object `{"v": 1, "type": "<type>", ...fields}`. Unknown fields are
/// ignored; an unknown `type` is rejected with ``WireError/unknownMessageType(_:)``.
public enum StreamMessage: Sendable, Equatable {
    /// Manager → agent, first frame after the upgrade.
    case hello(heartbeatIntervalMs: Int)
    /// Manager → agent: a task the agent may acquire. A notice, never the task itself.
    case taskNotice(taskId: String)
    /// Manager → agent: stop this task now.
    case taskAbort(taskId: String)
    /// Manager → agent: stop taking tasks, finish the running ones, then reconnect.
    case drain(reason: String)
    /// Agent → manager.
    case heartbeat(Heartbeat)
    /// Manager → agent, answers one heartbeat.
    case heartbeatAck(HeartbeatAck)
    /// Either way: a problem with the last message or the session. Codes as in ``ErrorBody``.
    case error(code: String, message: String)

    public var type: String {
        switch self {
        case .hello: "hello"
        case .taskNotice: "task.notice"
        case .taskAbort: "task.abort"
        case .drain: "drain"
        case .heartbeat: "heartbeat"
        case .heartbeatAck: "heartbeat.ack"
        case .error: "error"
        }
    }
}

extension StreamMessage: Codable {
    private enum Keys: String, CodingKey {
        case v, type, taskId, heartbeatIntervalMs, reason, code, message
        case seq, running, capacity, runningTaskIds, mode, draining, abortTaskIds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let version = try c.decodeIfPresent(Int.self, forKey: .v) ?? WireProtocol.version
        guard version == WireProtocol.version else { throw WireError.unsupportedVersion(version) }
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "hello":
            self = .hello(heartbeatIntervalMs: try c.decode(Int.self, forKey: .heartbeatIntervalMs))
        case "task.notice":
            self = .taskNotice(taskId: try c.decode(String.self, forKey: .taskId))
        case "task.abort":
            self = .taskAbort(taskId: try c.decode(String.self, forKey: .taskId))
        case "drain":
            self = .drain(reason: try c.decodeIfPresent(String.self, forKey: .reason) ?? "")
        case "heartbeat":
            self = .heartbeat(
                Heartbeat(
                    seq: try c.decode(UInt64.self, forKey: .seq),
                    running: try c.decode(Int.self, forKey: .running),
                    capacity: try c.decode(Int.self, forKey: .capacity),
                    runningTaskIds: try c.decodeIfPresent([String].self, forKey: .runningTaskIds) ?? [],
                    mode: try c.decodeIfPresent(ConnectionMode.self, forKey: .mode) ?? .socket,
                    draining: try c.decodeIfPresent(Bool.self, forKey: .draining) ?? false))
        case "heartbeat.ack":
            self = .heartbeatAck(
                HeartbeatAck(
                    seq: try c.decode(UInt64.self, forKey: .seq),
                    abortTaskIds: try c.decodeIfPresent([String].self, forKey: .abortTaskIds) ?? []))
        case "error":
            self = .error(
                code: try c.decode(String.self, forKey: .code),
                message: try c.decodeIfPresent(String.self, forKey: .message) ?? "")
        default:
            throw WireError.unknownMessageType(String(type.prefix(64)))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(WireProtocol.version, forKey: .v)
        try c.encode(type, forKey: .type)
        switch self {
        case .hello(let ms):
            try c.encode(ms, forKey: .heartbeatIntervalMs)
        case .taskNotice(let id), .taskAbort(let id):
            try c.encode(id, forKey: .taskId)
        case .drain(let reason):
            try c.encode(reason, forKey: .reason)
        case .heartbeat(let hb):
            try c.encode(hb.seq, forKey: .seq)
            try c.encode(hb.running, forKey: .running)
            try c.encode(hb.capacity, forKey: .capacity)
            try c.encode(hb.runningTaskIds, forKey: .runningTaskIds)
            try c.encode(hb.mode, forKey: .mode)
            try c.encode(hb.draining, forKey: .draining)
        case .heartbeatAck(let ack):
            try c.encode(ack.seq, forKey: .seq)
            try c.encode(ack.abortTaskIds, forKey: .abortTaskIds)
        case .error(let code, let message):
            try c.encode(code, forKey: .code)
            try c.encode(message, forKey: .message)
        }
    }

    /// Parses one text frame, with the frame-size limit applied first.
    public static func parse(_ text: String) throws(WireError) -> StreamMessage {
        let data = Data(text.utf8)
        if data.count > WireProtocol.maxFrameBytes {
            throw .payloadTooLarge(what: "stream frame", size: data.count, limit: WireProtocol.maxFrameBytes)
        }
        return try WireCoding.decode(StreamMessage.self, from: data, what: "stream message")
    }

    public func text() -> String {
        // Encoding these plain value types cannot fail; fall back to an error frame to be total.
        guard let data = try? WireCoding.encode(self), let s = String(data: data, encoding: .utf8) else {
            return #"{"v":1,"type":"error","code":"internal","message":"encoding failed"}"#
        }
        return s
    }
}
