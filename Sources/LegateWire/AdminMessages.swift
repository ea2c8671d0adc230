import Foundation

public struct CreateTokenRequest: Codable, Sendable, Equatable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// Returned once, at creation: the only time the token value is shown.
public struct CreatedToken: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var token: String
    public init(id: String, name: String, token: String) {
        self.id = id
        self.name = name
        self.token = token
    }
}

public struct TokenView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date
    public var revokedAt: Date?
    public init(id: String, name: String, createdAt: Date, revokedAt: Date?) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

public struct CreateTaskRequest: Codable, Sendable, Equatable {
    public var type: String
    public var name: String?
    public var shell: ShellSpec?
    public var selectors: [String]?
    /// Total runs allowed; above 1 the task is re-queued when its delegate is lost.
    public var maxAttempts: Int?
    public var timeoutSeconds: Int?
    /// The task's scope (`account/org/project`); needed when it refers to secrets.
    public var scope: String?

    public init(
        type: String = "shell", name: String? = nil, shell: ShellSpec?, selectors: [String]? = nil,
        maxAttempts: Int? = nil, timeoutSeconds: Int? = nil, scope: String? = nil
    ) {
        self.scope = scope
        self.type = type
        self.name = name
        self.shell = shell
        self.selectors = selectors
        self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds
    }
}

public enum TaskStatus: String, Codable, Sendable, Equatable, CaseIterable {
    case queued
    case running
    case succeeded
    case failed
    case timedOut
    case aborted
    case error
    /// Its delegate was lost and it may not be retried.
    case lost

    public var isFinal: Bool { self != .queued && self != .running }
}

public struct TaskView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String?
    public var type: String
    public var status: TaskStatus
    public var selectors: [String]
    public var attempt: Int
    public var maxAttempts: Int
    public var timeoutSeconds: Int
    public var delegateId: String?
    /// Every delegate that ran an attempt, in order.
    public var delegateHistory: [String]
    public var createdAt: Date
    public var updatedAt: Date
    public var result: TaskResult?
    /// For a queued task: why no delegate has taken it yet.
    public var waitingReason: String?
    public var abortRequested: Bool

    public init(
        id: String, name: String?, type: String, status: TaskStatus, selectors: [String], attempt: Int,
        maxAttempts: Int, timeoutSeconds: Int, delegateId: String?, delegateHistory: [String], createdAt: Date,
        updatedAt: Date, result: TaskResult?, waitingReason: String?, abortRequested: Bool
    ) {
        self.id = id
        self.name = name
        self.type = type
        self.status = status
        self.selectors = selectors
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds
        self.delegateId = delegateId
        self.delegateHistory = delegateHistory
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.result = result
        self.waitingReason = waitingReason
        self.abortRequested = abortRequested
    }
}

public struct TaskLogView: Codable, Sendable, Equatable {
    public var attempt: Int
    public var seq: Int
    public var stream: LogStream
    public var data: String
    public var at: Date
    public init(attempt: Int, seq: Int, stream: LogStream, data: String, at: Date) {
        self.attempt = attempt
        self.seq = seq
        self.stream = stream
        self.data = data
        self.at = at
    }
}

public enum DelegateStatus: String, Codable, Sendable, Equatable {
    case active
    case lost
    case disconnected
}

public struct DelegateView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var hostname: String
    public var version: String
    public var tags: [String]
    public var capacity: Int
    public var running: Int
    public var status: DelegateStatus
    public var mode: ConnectionMode?
    public var lastSeenAt: Date
    public var tokenId: String

    public init(
        id: String, name: String, hostname: String, version: String, tags: [String], capacity: Int, running: Int,
        status: DelegateStatus, mode: ConnectionMode?, lastSeenAt: Date, tokenId: String
    ) {
        self.id = id
        self.name = name
        self.hostname = hostname
        self.version = version
        self.tags = tags
        self.capacity = capacity
        self.running = running
        self.status = status
        self.mode = mode
        self.lastSeenAt = lastSeenAt
        self.tokenId = tokenId
    }
}

/// Fault-injection switch for the delegate streams (manager started with `--fault-injection`).
public enum StreamPolicy: String, Codable, Sendable, Equatable {
    /// Normal operation.
    case open
    /// Close live streams and refuse new upgrades with 503: agents must fall back to polling.
    case refuse
    /// Keep streams open but stop reading and answering them: agents must notice the silence.
    case silent
}

public struct StreamPolicyRequest: Codable, Sendable, Equatable {
    public var policy: StreamPolicy
    public init(policy: StreamPolicy) { self.policy = policy }
}
