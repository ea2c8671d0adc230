import Foundation
import LegateCore
import LegateWire
import Logging
import SQLiteNIO

/// A failure of the manager's database. Messages name the file so the operator can find it.
public struct StoreError: LegateError {
    public let code = "store_error"
    public let message: String
    public var origin: ErrorOrigin { .external }
    public var persistence: ErrorPersistence { .transient }

    /// A UNIQUE constraint refused the write (a concurrent create of the same name).
    public var isUniqueViolation: Bool { message.contains("UNIQUE constraint failed") }
}

/// The manager's durable state in one SQLite file: tokens, delegates, tasks, logs.
///
/// One connection, serialised by the actor, so each method is atomic with respect to the others;
/// acquisition relies on that (`UPDATE … WHERE status = 'queued'` has exactly one winner).
public actor ManagerStore {
    private let db: SQLiteConnection
    public let path: String
    private var revokedTokens: Set<String> = []

    public static func open(path: String, logger: Logger) async throws -> ManagerStore {
        let db: SQLiteConnection
        do {
            db = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw StoreError(message: "Cannot open the database at \(path): \(error). Check that the state directory exists and is writable.")
        }
        let store = ManagerStore(db: db, path: path)
        try await store.migrate()
        return store
    }

    private init(db: SQLiteConnection, path: String) {
        self.db = db
        self.path = path
    }

    // MARK: Serialisation
    //
    // Actor methods interleave at every `await`, and every query awaits the SQLite thread. This
    // lock makes each public operation (acquire's check-and-update, a log batch transaction)
    // run alone, so the connection never sees two operations' statements mixed.

    private var busy = false
    private var queue: [CheckedContinuation<Void, Never>] = []

    private func serialized<T>(_ body: () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { queue.append($0) }
        } else {
            busy = true
        }
        defer {
            if queue.isEmpty { busy = false } else { queue.removeFirst().resume() }
        }
        return try await body()
    }

    public func close() async {
        try? await db.close()
    }

    private func migrate() async throws {
        let statements = [
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=5000",
            """
            CREATE TABLE IF NOT EXISTS tokens (
              id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL,
              created_at INTEGER NOT NULL, revoked_at INTEGER)
            """,
            """
            CREATE TABLE IF NOT EXISTS delegates (
              id TEXT PRIMARY KEY, token_id TEXT NOT NULL, instance_id TEXT NOT NULL, name TEXT NOT NULL,
              hostname TEXT NOT NULL, version TEXT NOT NULL, tags TEXT NOT NULL, capacity INTEGER NOT NULL,
              task_types TEXT NOT NULL, status TEXT NOT NULL, mode TEXT, running INTEGER NOT NULL DEFAULT 0,
              registered_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS tasks (
              id TEXT PRIMARY KEY, name TEXT, type TEXT NOT NULL, spec TEXT NOT NULL, selectors TEXT NOT NULL,
              status TEXT NOT NULL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
              timeout_s INTEGER NOT NULL, delegate_id TEXT, history TEXT NOT NULL, abort_requested INTEGER NOT NULL,
              result TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
              scope TEXT, payload TEXT, secret_refs TEXT)
            """,
            """
            CREATE TABLE IF NOT EXISTS connectors (
              id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, scope TEXT NOT NULL, config TEXT NOT NULL,
              selectors TEXT NOT NULL, credentials TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE (scope, name))
            """,
            """
            CREATE TABLE IF NOT EXISTS secrets (
              id TEXT PRIMARY KEY, scope TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, connector_id TEXT NOT NULL,
              envelope TEXT, key_version INTEGER, version INTEGER NOT NULL, usage_scopes TEXT NOT NULL, status TEXT NOT NULL,
              created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, path TEXT, store_version TEXT, UNIQUE (scope, name))
            """,
            """
            CREATE TABLE IF NOT EXISTS audit (
              seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
              target TEXT NOT NULL, detail TEXT NOT NULL)
            """,
            "CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks(status, created_at)",
            "CREATE INDEX IF NOT EXISTS tasks_by_delegate ON tasks(delegate_id, status)",
            """
            CREATE TABLE IF NOT EXISTS task_logs (
              task_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL, stream TEXT NOT NULL,
              data TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (task_id, attempt, seq))
            """,
        ]
        for sql in statements { try await exec(sql) }
        // Columns added after 0.1.0 databases existed; "duplicate column" means already there.
        for sql in ["ALTER TABLE secrets ADD COLUMN path TEXT", "ALTER TABLE secrets ADD COLUMN store_version TEXT"] {
            do { try await exec(sql) } catch let e as StoreError where e.message.contains("duplicate column") {}
        }
        for row in try await query("SELECT id FROM tokens WHERE revoked_at IS NOT NULL") {
            if let id = row.column("id")?.string { revokedTokens.insert(id) }
        }
    }

    // MARK: SQL helpers

    @discardableResult
    private func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        do {
            return try await db.query(sql, binds)
        } catch {
            throw StoreError(message: "Database operation failed on \(path): \(error)")
        }
    }

    private func exec(_ sql: String, _ binds: [SQLiteData] = []) async throws {
        try await query(sql, binds)
    }

    /// One statement as its own serialised operation (for simple reads and writes in extensions).
    func rows(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await serialized { try await self.query(sql, binds) }
    }

    func run(_ sql: String, _ binds: [SQLiteData] = []) async throws {
        _ = try await rows(sql, binds)
    }

    private func changes() async throws -> Int {
        let rows = try await query("SELECT changes() AS n")
        return Int(rows.first?.column("n")?.integer ?? 0)
    }

    static func ms(_ date: Date) -> SQLiteData { .integer(Int(date.timeIntervalSince1970 * 1000)) }
    static func date(_ data: SQLiteData?) -> Date {
        Date(timeIntervalSince1970: Double(data?.integer ?? 0) / 1000)
    }
    static func json<T: Encodable>(_ value: T) -> SQLiteData {
        .text((try? WireCoding.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "null")
    }
    static func decode<T: Decodable>(_ type: T.Type, _ data: SQLiteData?) -> T? {
        guard let s = data?.string else { return nil }
        return try? WireCoding.decoder().decode(T.self, from: Data(s.utf8))
    }

    // MARK: Tokens

    public struct TokenRecord: Sendable {
        public var id: String
        public var kind: String
        public var name: String
        public var hash: String
        public var createdAt: Date
        public var revokedAt: Date?
    }

    public func insertToken(id: String, kind: String, name: String, hash: String, now: Date) async throws {
        try await serialized {
            try await exec(
                "INSERT INTO tokens (id, kind, name, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                [.text(id), .text(kind), .text(name), .text(hash), Self.ms(now)])
        }
    }

    public func token(id: String) async throws -> TokenRecord? {
        try await serialized { try await self.fetchToken(id: id) }
    }

    private func fetchToken(id: String) async throws -> TokenRecord? {
        try await query("SELECT * FROM tokens WHERE id = ?", [.text(id)]).first.map(Self.tokenRecord)
    }

    public func tokens(kind: String) async throws -> [TokenRecord] {
        try await serialized {
            try await query("SELECT * FROM tokens WHERE kind = ? ORDER BY created_at", [.text(kind)]).map(Self.tokenRecord)
        }
    }

    /// Returns false when no such token of `kind` exists. Revoking twice keeps the first time.
    public func revokeToken(id: String, kind: String, now: Date) async throws -> Bool {
        try await serialized {
            guard try await fetchToken(id: id)?.kind == kind else { return false }
            try await exec("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [Self.ms(now), .text(id)])
            revokedTokens.insert(id)
            return true
        }
    }

    public func isRevoked(tokenId: String) -> Bool { revokedTokens.contains(tokenId) }

    private static func tokenRecord(_ row: SQLiteRow) -> TokenRecord {
        TokenRecord(
            id: row.column("id")?.string ?? "", kind: row.column("kind")?.string ?? "",
            name: row.column("name")?.string ?? "", hash: row.column("hash")?.string ?? "",
            createdAt: date(row.column("created_at")),
            revokedAt: row.column("revoked_at")?.isNull == false ? date(row.column("revoked_at")) : nil)
    }

    // MARK: Delegates

    public struct DelegateRecord: Sendable, Equatable {
        public var id: String
        public var tokenId: String
        public var instanceId: String
        public var name: String
        public var hostname: String
        public var version: String
        public var tags: [String]
        public var capacity: Int
        public var taskTypes: [String]
        public var status: DelegateStatus
        public var mode: ConnectionMode?
        public var running: Int
        public var registeredAt: Date
        public var lastSeenAt: Date

        public var view: DelegateView {
            DelegateView(
                id: id, name: name, hostname: hostname, version: version, tags: tags, capacity: capacity,
                running: running, status: status, mode: mode, lastSeenAt: lastSeenAt, tokenId: tokenId)
        }
    }

    public func upsertDelegate(_ d: DelegateRecord) async throws {
        try await serialized {
            try await exec(
                """
                INSERT INTO delegates (id, token_id, instance_id, name, hostname, version, tags, capacity, task_types,
                  status, mode, running, registered_at, last_seen_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET token_id = excluded.token_id, instance_id = excluded.instance_id,
                  name = excluded.name, hostname = excluded.hostname, version = excluded.version, tags = excluded.tags,
                  capacity = excluded.capacity, task_types = excluded.task_types, status = excluded.status,
                  mode = excluded.mode, running = excluded.running, last_seen_at = excluded.last_seen_at
                """,
                [
                    .text(d.id), .text(d.tokenId), .text(d.instanceId), .text(d.name), .text(d.hostname),
                    .text(d.version), Self.json(d.tags), .integer(d.capacity), Self.json(d.taskTypes),
                    .text(d.status.rawValue), d.mode.map { .text($0.rawValue) } ?? .null, .integer(d.running),
                    Self.ms(d.registeredAt), Self.ms(d.lastSeenAt),
                ])
        }
    }

    public func delegate(id: String) async throws -> DelegateRecord? {
        try await serialized {
            try await query("SELECT * FROM delegates WHERE id = ?", [.text(id)]).first.map(Self.delegateRecord)
        }
    }

    public func delegates(status: DelegateStatus? = nil) async throws -> [DelegateRecord] {
        try await serialized {
            if let status {
                return try await query(
                    "SELECT * FROM delegates WHERE status = ? ORDER BY registered_at", [.text(status.rawValue)]
                ).map(Self.delegateRecord)
            }
            return try await query("SELECT * FROM delegates ORDER BY registered_at").map(Self.delegateRecord)
        }
    }

    public func touchDelegate(id: String, now: Date, running: Int?, mode: ConnectionMode?) async throws {
        try await serialized {
            try await exec(
                "UPDATE delegates SET last_seen_at = ?, running = COALESCE(?, running), mode = COALESCE(?, mode), status = 'active' WHERE id = ?",
                [Self.ms(now), running.map { .integer($0) } ?? .null, mode.map { .text($0.rawValue) } ?? .null, .text(id)])
        }
    }

    public func setDelegateStatus(id: String, status: DelegateStatus) async throws {
        try await serialized {
            try await exec("UPDATE delegates SET status = ? WHERE id = ?", [.text(status.rawValue), .text(id)])
        }
    }

    private static func delegateRecord(_ row: SQLiteRow) -> DelegateRecord {
        DelegateRecord(
            id: row.column("id")?.string ?? "", tokenId: row.column("token_id")?.string ?? "",
            instanceId: row.column("instance_id")?.string ?? "", name: row.column("name")?.string ?? "",
            hostname: row.column("hostname")?.string ?? "", version: row.column("version")?.string ?? "",
            tags: decode([String].self, row.column("tags")) ?? [], capacity: Int(row.column("capacity")?.integer ?? 0),
            taskTypes: decode([String].self, row.column("task_types")) ?? [],
            status: DelegateStatus(rawValue: row.column("status")?.string ?? "") ?? .disconnected,
            mode: row.column("mode")?.string.flatMap(ConnectionMode.init(rawValue:)),
            running: Int(row.column("running")?.integer ?? 0), registeredAt: date(row.column("registered_at")),
            lastSeenAt: date(row.column("last_seen_at")))
    }

    // MARK: Tasks

    public struct TaskRecord: Sendable, Equatable {
        public var id: String
        public var name: String?
        public var type: String
        public var shell: ShellSpec?
        public var selectors: [String]
        public var status: TaskStatus
        public var attempt: Int
        public var maxAttempts: Int
        public var timeoutSeconds: Int
        public var delegateId: String?
        public var history: [String]
        public var abortRequested: Bool
        public var result: TaskResult?
        public var createdAt: Date
        public var updatedAt: Date
        /// The task's scope, when it uses secrets.
        public var scope: String? = nil
        /// The secret operation of `secret.*` / `connector.validate` tasks (never with plaintext).
        public var operation: SecretOperation? = nil
        /// Secrets a shell task refers to: reference as written → secret id.
        public var secretRefs: [String: String]? = nil
    }

    public func insertTask(_ t: TaskRecord) async throws {
        try await serialized {
            try await exec(
                """
                INSERT INTO tasks (id, name, type, spec, selectors, status, attempt, max_attempts, timeout_s, delegate_id,
                  history, abort_requested, result, created_at, updated_at, scope, payload, secret_refs)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '[]', 0, NULL, ?, ?, ?, ?, ?)
                """,
                [
                    .text(t.id), t.name.map { .text($0) } ?? .null, .text(t.type), Self.json(t.shell), Self.json(t.selectors),
                    .text(t.status.rawValue), .integer(t.attempt), .integer(t.maxAttempts), .integer(t.timeoutSeconds),
                    Self.ms(t.createdAt), Self.ms(t.updatedAt), t.scope.map { .text($0) } ?? .null,
                    t.operation.map { Self.json($0) } ?? .null, t.secretRefs.map { Self.json($0) } ?? .null,
                ])
        }
    }

    public func task(id: String) async throws -> TaskRecord? {
        try await serialized { try await self.fetchTask(id: id) }
    }

    private func fetchTask(id: String) async throws -> TaskRecord? {
        try await query("SELECT * FROM tasks WHERE id = ?", [.text(id)]).first.map(Self.taskRecord)
    }

    public func tasks(status: TaskStatus? = nil, limit: Int = 1000) async throws -> [TaskRecord] {
        try await serialized {
            if let status {
                return try await query(
                    "SELECT * FROM tasks WHERE status = ? ORDER BY created_at, rowid LIMIT ?",
                    [.text(status.rawValue), .integer(limit)]
                ).map(Self.taskRecord)
            }
            return try await query("SELECT * FROM tasks ORDER BY created_at, rowid LIMIT ?", [.integer(limit)]).map(Self.taskRecord)
        }
    }

    public func runningTasks(delegateId: String) async throws -> [TaskRecord] {
        try await serialized { try await self.fetchRunningTasks(delegateId: delegateId) }
    }

    private func fetchRunningTasks(delegateId: String) async throws -> [TaskRecord] {
        try await query(
            "SELECT * FROM tasks WHERE delegate_id = ? AND status = 'running'", [.text(delegateId)]
        ).map(Self.taskRecord)
    }

    /// Atomically hands a queued task to `delegateId`. Returns the updated record, or nil when the
    /// task was not queued (someone else won, or it was aborted).
    public func acquire(taskId: String, delegateId: String, now: Date) async throws -> TaskRecord? {
        try await serialized {
            guard var t = try await fetchTask(id: taskId), t.status == .queued, !t.abortRequested else { return nil }
            t.history.append(delegateId)
            try await exec(
                """
                UPDATE tasks SET status = 'running', delegate_id = ?, attempt = attempt + 1, history = ?, updated_at = ?
                WHERE id = ? AND status = 'queued'
                """,
                [.text(delegateId), Self.json(t.history), Self.ms(now), .text(taskId)])
            guard try await changes() == 1 else { return nil }
            return try await fetchTask(id: taskId)
        }
    }

    /// Stores a final result unless the task has moved on to another attempt.
    public enum ResultOutcome: Sendable, Equatable {
        case stored
        case duplicate
        /// A different result for an attempt whose result is already stored.
        case conflicting
        case notCurrent(TaskStatus, attempt: Int)
        case notFound
    }

    public func storeResult(taskId: String, delegateId: String, result: TaskResult, now: Date) async throws -> ResultOutcome {
        try await serialized {
            guard let t = try await fetchTask(id: taskId) else { return .notFound }
            if let existing = t.result, existing.attempt == result.attempt, t.delegateId == delegateId {
                return existing == result ? .duplicate : .conflicting
            }
            // A delegate declared lost may still deliver the result of a task that could not be retried.
            let mayStore = t.attempt == result.attempt && t.delegateId == delegateId && (t.status == .running || t.status == .lost)
            guard mayStore else { return .notCurrent(t.status, attempt: t.attempt) }
            let status: TaskStatus =
                switch result.outcome {
                case .succeeded: .succeeded
                case .failed: .failed
                case .timedOut: .timedOut
                case .aborted: .aborted
                case .error: .error
                }
            try await exec(
                "UPDATE tasks SET status = ?, result = ?, updated_at = ? WHERE id = ? AND attempt = ?",
                [.text(status.rawValue), Self.json(result), Self.ms(now), .text(taskId), .integer(result.attempt)])
            return .stored
        }
    }

    public func requestAbort(taskId: String, now: Date) async throws -> TaskRecord? {
        try await serialized {
            guard let t = try await fetchTask(id: taskId) else { return nil }
            if t.status == .queued {
                try await exec(
                    "UPDATE tasks SET status = 'aborted', abort_requested = 1, updated_at = ? WHERE id = ?",
                    [Self.ms(now), .text(taskId)])
            } else if t.status == .running {
                try await exec("UPDATE tasks SET abort_requested = 1, updated_at = ? WHERE id = ?", [Self.ms(now), .text(taskId)])
            }
            return try await fetchTask(id: taskId)
        }
    }

    /// The delegate is gone: its running tasks are re-queued when attempts remain, else marked lost.
    /// Returns the ids re-queued.
    /// With `only`, just those of its tasks (orphans the delegate no longer reports).
    public func releaseTasks(ofDelegate delegateId: String, only: Set<String>? = nil, now: Date) async throws -> [String] {
        try await serialized {
            var requeued: [String] = []
            for t in try await fetchRunningTasks(delegateId: delegateId) where only?.contains(t.id) ?? true {
                if t.attempt < t.maxAttempts && !t.abortRequested {
                    try await exec(
                        "UPDATE tasks SET status = 'queued', delegate_id = NULL, updated_at = ? WHERE id = ? AND status = 'running'",
                        [Self.ms(now), .text(t.id)])
                    requeued.append(t.id)
                } else {
                    try await exec(
                        "UPDATE tasks SET status = 'lost', updated_at = ? WHERE id = ? AND status = 'running'",
                        [Self.ms(now), .text(t.id)])
                }
            }
            return requeued
        }
    }

    private static func taskRecord(_ row: SQLiteRow) -> TaskRecord {
        TaskRecord(
            id: row.column("id")?.string ?? "", name: row.column("name")?.string,
            type: row.column("type")?.string ?? "", shell: decode(ShellSpec.self, row.column("spec")),
            selectors: decode([String].self, row.column("selectors")) ?? [],
            status: TaskStatus(rawValue: row.column("status")?.string ?? "") ?? .error,
            attempt: Int(row.column("attempt")?.integer ?? 0), maxAttempts: Int(row.column("max_attempts")?.integer ?? 1),
            timeoutSeconds: Int(row.column("timeout_s")?.integer ?? 0), delegateId: row.column("delegate_id")?.string,
            history: decode([String].self, row.column("history")) ?? [],
            abortRequested: (row.column("abort_requested")?.integer ?? 0) != 0,
            result: decode(TaskResult.self, row.column("result")), createdAt: date(row.column("created_at")),
            updatedAt: date(row.column("updated_at")), scope: row.column("scope")?.string,
            operation: decode(SecretOperation.self, row.column("payload")),
            secretRefs: decode([String: String].self, row.column("secret_refs")))
    }

    // MARK: Logs

    /// Inserts entries, ignoring sequence numbers already stored. Returns how many were new.
    public func appendLogs(taskId: String, batch: LogBatch) async throws -> Int {
        try await serialized {
            var stored = 0
            try await exec("BEGIN IMMEDIATE")
            do {
                for e in batch.entries {
                    try await exec(
                        "INSERT OR IGNORE INTO task_logs (task_id, attempt, seq, stream, data, at) VALUES (?, ?, ?, ?, ?, ?)",
                        [.text(taskId), .integer(batch.attempt), .integer(e.seq), .text(e.stream.rawValue), .text(e.data), Self.ms(e.at)])
                    stored += try await changes()
                }
                try await exec("COMMIT")
            } catch {
                try? await exec("ROLLBACK")
                throw error
            }
            return stored
        }
    }

    public func logs(taskId: String, afterAttempt: Int = 0, afterSeq: Int = 0) async throws -> [TaskLogView] {
        try await serialized {
            try await query(
                "SELECT * FROM task_logs WHERE task_id = ? AND (attempt > ? OR (attempt = ? AND seq > ?)) ORDER BY attempt, seq",
                [.text(taskId), .integer(afterAttempt), .integer(afterAttempt), .integer(afterSeq)]
            ).map { row in
                TaskLogView(
                    attempt: Int(row.column("attempt")?.integer ?? 0), seq: Int(row.column("seq")?.integer ?? 0),
                    stream: LogStream(rawValue: row.column("stream")?.string ?? "") ?? .stdout,
                    data: row.column("data")?.string ?? "", at: Self.date(row.column("at")))
            }
        }
    }
}
