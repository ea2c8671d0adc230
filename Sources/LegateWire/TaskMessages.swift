import Foundation

/// What a `shell` task runs. Either `command` (argv, looked up on PATH) or `script` (run by `shell`).
public struct ShellSpec: Codable, Sendable, Equatable {
    public var command: [String]?
    public var script: String?
    /// Interpreter for `script`; default `/bin/sh`.
    public var shell: String?
    public var env: [String: String]?
    public var workingDirectory: String?

    public init(
        command: [String]? = nil, script: String? = nil, shell: String? = nil, env: [String: String]? = nil,
        workingDirectory: String? = nil
    ) {
        self.command = command
        self.script = script
        self.shell = shell
        self.env = env
        self.workingDirectory = workingDirectory
    }

    /// Checks the spec is runnable; the manager calls this at task creation so a bad task never queues.
    public func validate() throws(WireError) {
        let hasCommand = !(command ?? []).isEmpty
        let hasScript = !(script ?? "").isEmpty
        if hasCommand == hasScript {
            throw .invalidField(
                what: "shell task", field: hasCommand ? "script" : "command",
                reason: "must be given exactly one of 'command' (a non-empty argv array) or 'script'")
        }
        for key in (env ?? [:]).keys {
            if key.isEmpty || key.contains("=") || key.contains("\0") {
                throw .invalidField(what: "shell task", field: "env", reason: "has an invalid variable name '\(key)'")
            }
        }
    }
}

/// What the agent gets from a successful acquire.
public struct TaskPackage: Codable, Sendable, Equatable {
    public var taskId: String
    /// 1 for the first run; re-queued tasks get the next number. Logs and results carry it.
    public var attempt: Int
    public var type: String
    public var timeoutMs: Int
    public var shell: ShellSpec?
    /// Secrets the shell task refers to, as envelopes; resolved on the agent just in time.
    public var secrets: [SecretMaterial]?
    /// For `secret.*` and `connector.validate` tasks.
    public var secretOperation: SecretOperation?

    public init(
        taskId: String, attempt: Int, type: String, timeoutMs: Int, shell: ShellSpec?, secrets: [SecretMaterial]? = nil,
        secretOperation: SecretOperation? = nil
    ) {
        self.taskId = taskId
        self.attempt = attempt
        self.type = type
        self.timeoutMs = timeoutMs
        self.shell = shell
        self.secrets = secrets
        self.secretOperation = secretOperation
    }
}

public struct AcquireRequest: Codable, Sendable, Equatable {
    public var delegateId: String
    public init(delegateId: String) { self.delegateId = delegateId }
}

public enum LogStream: String, Codable, Sendable, Equatable {
    case stdout
    case stderr
}

public struct LogEntry: Codable, Sendable, Equatable {
    /// Per task attempt, from 1, no gaps. The manager stores each sequence number once.
    public var seq: Int
    public var stream: LogStream
    public var data: String
    public var at: Date

    public init(seq: Int, stream: LogStream, data: String, at: Date) {
        self.seq = seq
        self.stream = stream
        self.data = data
        self.at = at
    }
}

/// `POST /api/v1/tasks/{id}/logs`.
public struct LogBatch: Codable, Sendable, Equatable {
    public var attempt: Int
    public var entries: [LogEntry]

    public init(attempt: Int, entries: [LogEntry]) {
        self.attempt = attempt
        self.entries = entries
    }
}

public struct LogBatchResponse: Codable, Sendable, Equatable {
    /// How many entries were new (duplicates of stored sequence numbers are ignored).
    public var stored: Int
    public init(stored: Int) { self.stored = stored }
}

public enum TaskOutcome: String, Codable, Sendable, Equatable {
    case succeeded
    case failed
    case timedOut
    case aborted
    case error
}

/// `POST /api/v1/tasks/{id}/result`. Idempotent: the same attempt's result is accepted once.
public struct TaskResult: Codable, Sendable, Equatable {
    public var attempt: Int
    public var outcome: TaskOutcome
    public var exitCode: Int32?
    public var message: String?
    public var startedAt: Date
    public var finishedAt: Date
    /// Number of log entries the agent sent; lets the manager notice missing log batches.
    public var logEntries: Int
    /// Structured output of secret tasks (an envelope, a validation report). Never plaintext.
    public var output: [String: String]?

    public init(
        attempt: Int, outcome: TaskOutcome, exitCode: Int32?, message: String?, startedAt: Date, finishedAt: Date,
        logEntries: Int, output: [String: String]? = nil
    ) {
        self.output = output
        self.attempt = attempt
        self.outcome = outcome
        self.exitCode = exitCode
        self.message = message
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.logEntries = logEntries
    }
}

public struct ResultResponse: Codable, Sendable, Equatable {
    /// True when this exact result had been stored before (a retry after a lost response).
    public var duplicate: Bool
    public init(duplicate: Bool) { self.duplicate = duplicate }
}
