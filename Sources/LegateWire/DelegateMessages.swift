import Foundation

/// `POST /api/v1/delegates/register`, authenticated with the delegate token.
public struct RegisterRequest: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    public var name: String
    public var hostname: String
    public var version: String
    public var tags: [String]
    public var capacity: Int
    public var supportedTaskTypes: [String]
    /// Random per process start; lets the manager tell a restarted agent from a reconnecting one.
    public var instanceId: String
    /// The id this process was given before, when it re-registers (e.g. after a manager restart).
    public var delegateId: String?

    public init(
        protocolVersion: Int = WireProtocol.version, name: String, hostname: String, version: String,
        tags: [String], capacity: Int, supportedTaskTypes: [String], instanceId: String, delegateId: String? = nil
    ) {
        self.protocolVersion = protocolVersion
        self.name = name
        self.hostname = hostname
        self.version = version
        self.tags = tags
        self.capacity = capacity
        self.supportedTaskTypes = supportedTaskTypes
        self.instanceId = instanceId
        self.delegateId = delegateId
    }
}

public struct RegisterResponse: Codable, Sendable, Equatable {
    public var protocolVersion: Int
    public var delegateId: String
    public var sessionToken: String
    public var sessionExpiresAt: Date
    public var heartbeatIntervalMs: Int
    public var pollIntervalMs: Int
    /// Heartbeats the manager may miss before it declares the delegate lost.
    public var lostAfterMissed: Int

    public init(
        protocolVersion: Int = WireProtocol.version, delegateId: String, sessionToken: String,
        sessionExpiresAt: Date, heartbeatIntervalMs: Int, pollIntervalMs: Int, lostAfterMissed: Int
    ) {
        self.protocolVersion = protocolVersion
        self.delegateId = delegateId
        self.sessionToken = sessionToken
        self.sessionExpiresAt = sessionExpiresAt
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.pollIntervalMs = pollIntervalMs
        self.lostAfterMissed = lostAfterMissed
    }
}

/// `POST /api/v1/delegates/{id}/session`: a fresh session token before the current one expires.
public struct SessionResponse: Codable, Sendable, Equatable {
    public var sessionToken: String
    public var sessionExpiresAt: Date

    public init(sessionToken: String, sessionExpiresAt: Date) {
        self.sessionToken = sessionToken
        self.sessionExpiresAt = sessionExpiresAt
    }
}

/// How the agent currently receives notices.
public enum ConnectionMode: String, Codable, Sendable, Equatable {
    case socket
    case polling
}

/// Sent every heartbeat interval over the stream, or to `POST /api/v1/delegates/{id}/heartbeat`.
public struct Heartbeat: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey { case seq, running, capacity, runningTaskIds, mode, draining }

    /// The same defaults as on the stream: only `seq`, `running` and `capacity` are required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(UInt64.self, forKey: .seq)
        running = try c.decode(Int.self, forKey: .running)
        capacity = try c.decode(Int.self, forKey: .capacity)
        runningTaskIds = try c.decodeIfPresent([String].self, forKey: .runningTaskIds) ?? []
        mode = try c.decodeIfPresent(ConnectionMode.self, forKey: .mode) ?? .polling
        draining = try c.decodeIfPresent(Bool.self, forKey: .draining) ?? false
    }

    public var seq: UInt64
    public var running: Int
    public var capacity: Int
    public var runningTaskIds: [String]
    public var mode: ConnectionMode
    public var draining: Bool

    public init(seq: UInt64, running: Int, capacity: Int, runningTaskIds: [String], mode: ConnectionMode, draining: Bool) {
        self.seq = seq
        self.running = running
        self.capacity = capacity
        self.runningTaskIds = runningTaskIds
        self.mode = mode
        self.draining = draining
    }
}

public struct HeartbeatAck: Codable, Sendable, Equatable {
    public var seq: UInt64
    /// Tasks the agent reported as running that it must stop (reassigned or aborted meanwhile).
    public var abortTaskIds: [String]

    public init(seq: UInt64, abortTaskIds: [String] = []) {
        self.seq = seq
        self.abortTaskIds = abortTaskIds
    }
}

/// `GET /api/v1/delegates/{id}/notices?waitMs=N`: what the stream would have pushed.
public struct NoticeBatch: Codable, Sendable, Equatable {
    public var notices: [StreamMessage]

    public init(notices: [StreamMessage]) { self.notices = notices }
}
