import Foundation
import LegateCore
import LegateWire
import Logging

/// Timing and limits of a manager.
public struct ManagerSettings: Sendable {
    /// 5 s: a silent socket is left for polling within ~15 s and a dead delegate is declared lost
    /// within ~18 s (decision 46), for one small request per delegate every 5 s.
    public var heartbeatInterval: Duration = .seconds(5)
    /// Heartbeats a delegate may miss before it is declared lost.
    public var lostAfterMissed = 3
    /// Longest long-poll wait announced to agents (`pollIntervalMs`).
    public var pollInterval: Duration = .seconds(10)
    public var sessionTTL: Duration = .seconds(1800)
    /// Allows the stream policy switch (`PUT /api/v1/admin/streams`); for tests and game days.
    public var faultInjection = false

    public init() {}
}

/// The manager's protocol logic, independent of HTTP: every route handler is a thin call into here.
public final class ManagerCore: Sendable {
    public let store: ManagerStore
    let hub = DelegateHub()
    let credentials: Credentials
    public let settings: ManagerSettings
    let logger: Logger
    let now: @Sendable () -> Date
    /// Delegates cannot have heartbeated while the manager was down: silence is counted from
    /// whichever is later, their last heartbeat or this start.
    private let startedAt: Date
    /// Plaintext of `secret.encrypt` tasks, in memory only, until the task ends.
    let pendingPlaintext = PlaintextVault()

    public init(
        store: ManagerStore, credentials: Credentials, settings: ManagerSettings, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.credentials = credentials
        self.settings = settings
        self.logger = logger
        self.now = now
        self.startedAt = now()
    }

    // MARK: Authentication

    private func bearer(_ header: String?) -> String? {
        guard let header, header.hasPrefix("Bearer ") else { return nil }
        let v = String(header.dropFirst(7)).trimmingWhitespace()
        return v.isEmpty ? nil : v
    }

    /// Checks a delegate token; returns its id.
    func authenticateDelegateToken(_ header: String?) async throws -> String {
        guard let presented = bearer(header), let (id, secret) = Credentials.parse(presented, kind: .delegate),
            let record = try await store.token(id: id), record.kind == Credentials.Kind.delegate.rawValue,
            Credentials.matches(secret: secret, storedHash: record.hash)
        else { throw APIError.badToken }
        if record.revokedAt != nil { throw APIError.revoked }
        return id
    }

    /// Checks a session token and that it belongs to `delegateId`.
    func authenticateSession(_ header: String?, delegateId: String) async throws -> Credentials.Session {
        guard let presented = bearer(header) else {
            throw APIError(.unauthorized, "unauthorized", "Missing session token: send `Authorization: Bearer <sessionToken>` from register.")
        }
        switch credentials.verifySession(presented, now: now()) {
        case .failure(.expired):
            throw APIError(.unauthorized, "session_expired", "The session token has expired; register again to get a new one.")
        case .failure:
            throw APIError(.unauthorized, "session_invalid", "The session token is not valid for this manager; register again.")
        case .success(let session):
            if await store.isRevoked(tokenId: session.tokenId) { throw APIError.revoked }
            guard session.delegateId == delegateId else {
                throw APIError(.forbidden, "forbidden", "This session belongs to another delegate.")
            }
            guard try await store.delegate(id: delegateId) != nil else {
                throw APIError(.unauthorized, "delegate_unknown", "The manager does not know delegate \(delegateId); register again.")
            }
            return session
        }
    }

    /// Returns the admin key id, recorded as the actor in the audit trail.
    @discardableResult
    func authenticateAdmin(_ header: String?) async throws -> String {
        guard let presented = bearer(header), let (id, secret) = Credentials.parse(presented, kind: .admin),
            let record = try await store.token(id: id), record.kind == Credentials.Kind.admin.rawValue,
            record.revokedAt == nil, Credentials.matches(secret: secret, storedHash: record.hash)
        else { throw APIError.badAdminKey }
        return id
    }

    // MARK: Tokens

    public func createToken(name: String, kind: Credentials.Kind = .delegate) async throws -> CreatedToken {
        let trimmed = name.trimmingWhitespace()
        guard !trimmed.isEmpty, trimmed.count <= 128 else {
            throw APIError(.badRequest, "invalid_field", "Token name must be 1–128 characters.")
        }
        let issued = Credentials.issue(kind: kind)
        try await store.insertToken(id: issued.id, kind: kind.rawValue, name: trimmed, hash: issued.hash, now: now())
        logger.info("token created", metadata: ["token.id": "\(issued.id)", "token.kind": "\(kind.rawValue)", "token.name": "\(trimmed)"])
        return CreatedToken(id: issued.id, name: trimmed, token: issued.token.unsafeValue)
    }

    public func listTokens() async throws -> [TokenView] {
        try await store.tokens(kind: Credentials.Kind.delegate.rawValue).map {
            TokenView(id: $0.id, name: $0.name, createdAt: $0.createdAt, revokedAt: $0.revokedAt)
        }
    }

    /// Revokes the token and tells every live delegate that used it.
    public func revokeToken(id: String) async throws {
        guard try await store.revokeToken(id: id, kind: Credentials.Kind.delegate.rawValue, now: now()) else {
            throw APIError(.notFound, "not_found", "No token with id \(id). List tokens with `legate-manager token list`.")
        }
        logger.notice("token revoked", metadata: ["token.id": "\(id)"])
        for d in try await store.delegates() where d.tokenId == id {
            await hub.push(.error(code: APIError.revoked.code, message: APIError.revoked.message), to: d.id)
        }
    }

    // MARK: Delegates

    func register(_ req: RegisterRequest, tokenId: String) async throws -> RegisterResponse {
        guard req.protocolVersion == WireProtocol.version else {
            throw APIError.from(.unsupportedVersion(req.protocolVersion))
        }
        let name = req.name.trimmingWhitespace()
        guard !name.isEmpty, name.count <= 128 else {
            throw APIError.from(.invalidField(what: "register request", field: "name", reason: "must be 1–128 characters"))
        }
        guard (1...1000).contains(req.capacity) else {
            throw APIError.from(.invalidField(what: "register request", field: "capacity", reason: "must be between 1 and 1000"))
        }
        for tag in req.tags {
            do { try Selectors.validate(tag, what: "Tag") } catch {
                throw APIError(.badRequest, "invalid_field", error.message)
            }
        }
        let t = now()
        var id = Identifiers.make(prefix: "d_")
        var registeredAt = t
        if let previous = req.delegateId, let existing = try await store.delegate(id: previous), existing.tokenId == tokenId {
            id = existing.id
            registeredAt = existing.registeredAt
        }
        let record = ManagerStore.DelegateRecord(
            id: id, tokenId: tokenId, instanceId: req.instanceId, name: name, hostname: req.hostname,
            version: req.version, tags: Selectors.normalize(req.tags), capacity: req.capacity,
            taskTypes: req.supportedTaskTypes, status: .active, mode: nil, running: 0, registeredAt: registeredAt,
            lastSeenAt: t)
        try await store.upsertDelegate(record)
        logger.info(
            "delegate registered",
            metadata: ["delegate.id": "\(id)", "delegate.name": "\(name)", "delegate.tags": "\(record.tags.joined(separator: ","))"])
        let expires = t.addingTimeInterval(settings.sessionTTL.seconds)
        return RegisterResponse(
            delegateId: id,
            sessionToken: credentials.sessionToken(delegateId: id, tokenId: tokenId, expiresAt: expires),
            sessionExpiresAt: expires, heartbeatIntervalMs: Int(settings.heartbeatInterval.milliseconds),
            pollIntervalMs: Int(settings.pollInterval.milliseconds), lostAfterMissed: settings.lostAfterMissed)
    }

    func refreshSession(_ session: Credentials.Session) -> SessionResponse {
        let expires = now().addingTimeInterval(settings.sessionTTL.seconds)
        return SessionResponse(
            sessionToken: credentials.sessionToken(delegateId: session.delegateId, tokenId: session.tokenId, expiresAt: expires),
            sessionExpiresAt: expires)
    }

    func heartbeat(delegateId: String, _ hb: Heartbeat) async throws -> HeartbeatAck {
        let before = try await store.delegate(id: delegateId)
        try await store.touchDelegate(id: delegateId, now: now(), running: hb.running, mode: hb.mode)
        if before?.status == .lost {
            logger.notice("lost delegate is back", metadata: ["delegate.id": "\(delegateId)"])
        }
        try await releaseOrphans(delegateId: delegateId, reported: Set(hb.runningTaskIds))
        var abort: [String] = []
        for taskId in hb.runningTaskIds {
            guard let t = try await store.task(id: taskId) else {
                abort.append(taskId)
                continue
            }
            if t.status != .running || t.delegateId != delegateId || t.abortRequested { abort.append(taskId) }
        }
        if !hb.draining, hb.running < hb.capacity, await !hub.hasPending(delegateId) {
            try await seedNotices(delegateId: delegateId, limit: max(1, hb.capacity - hb.running) * 2)
        }
        return HeartbeatAck(seq: hb.seq, abortTaskIds: abort)
    }

    /// A task the manager handed to this delegate that the delegate does not report running two
    /// heartbeats later was lost in between (e.g. the acquire response never arrived): release it
    /// like the task of a lost delegate, so it cannot stay `running` forever.
    func releaseOrphans(delegateId: String, reported: Set<String>) async throws {
        let cutoff = now().addingTimeInterval(-2 * settings.heartbeatInterval.seconds)
        let orphans = try await store.runningTasks(delegateId: delegateId).filter {
            !reported.contains($0.id) && $0.updatedAt < cutoff
        }
        guard !orphans.isEmpty else { return }
        let requeued = try await store.releaseTasks(ofDelegate: delegateId, only: Set(orphans.map(\.id)), now: now())
        logger.warning(
            "delegate no longer reports tasks it acquired; released them",
            metadata: ["delegate.id": "\(delegateId)", "tasks": "\(orphans.map(\.id).joined(separator: ","))", "requeued": "\(requeued.count)"])
        for id in requeued { if let t = try await store.task(id: id) { try await notifyEligible(t) } }
    }

    /// Pushes notices for queued tasks this delegate may run (on connect, and when it has room).
    func seedNotices(delegateId: String, limit: Int) async throws {
        guard let d = try await store.delegate(id: delegateId), d.status == .active else { return }
        var n = 0
        for t in try await store.tasks(status: .queued, limit: 2000) where n < limit {
            if Self.eligible(d, for: t) {
                await hub.push(.taskNotice(taskId: t.id), to: delegateId)
                n += 1
            }
        }
    }

    static func eligible(_ d: ManagerStore.DelegateRecord, for t: ManagerStore.TaskRecord) -> Bool {
        d.taskTypes.contains(t.type) && Selectors.matches(tags: d.tags, selectors: t.selectors)
    }

    /// Long-poll: waits up to `wait` for notices, seeding from the queue when the mailbox is empty.
    func poll(delegateId: String, wait: Duration) async throws -> NoticeBatch {
        try await store.touchDelegate(id: delegateId, now: now(), running: nil, mode: .polling)
        if await !hub.hasPending(delegateId) {
            try await seedNotices(delegateId: delegateId, limit: 64)
        }
        if await !hub.hasPending(delegateId), wait > .zero {
            await waitForMail(delegateId: delegateId, timeout: min(wait, WireProtocol.maxPollWait))
        }
        return NoticeBatch(notices: await hub.take(delegateId))
    }

    /// Waits until the delegate's mailbox has something, or `timeout` passes.
    func waitForMail(delegateId: String, timeout: Duration?) async {
        let waiter = await hub.makeWaiterId()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.hub.wait(delegateId, waiter: waiter) }
            if let timeout {
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    await self.hub.release(delegateId, waiter: waiter)
                }
            }
            await group.next()
            group.cancelAll()
            await self.hub.release(delegateId, waiter: waiter)
        }
    }

    // MARK: Tasks

    func acquire(taskId: String, delegateId: String) async throws -> TaskPackage {
        guard let d = try await store.delegate(id: delegateId) else {
            throw APIError(.unauthorized, "delegate_unknown", "Unknown delegate \(delegateId); register again.")
        }
        guard let t = try await store.task(id: taskId) else {
            throw APIError(.notFound, "task_not_found", "No task \(taskId).")
        }
        guard Self.eligible(d, for: t) else {
            throw APIError(.forbidden, "selector_mismatch", "Task \(taskId) needs tags \(t.selectors) or type '\(t.type)' that delegate \(delegateId) lacks.")
        }
        guard d.status == .active else {
            throw APIError(.conflict, "delegate_not_active", "Delegate \(delegateId) is \(d.status.rawValue); it must heartbeat before it takes tasks.")
        }
        // Build what the task needs before taking it: a task whose secrets or value are gone is
        // aborted here instead of being handed out and left running.
        let secrets: [SecretMaterial]?
        let operation: SecretOperation?
        do {
            secrets = try await secretMaterial(for: t)
            operation = try await operationPackage(for: t)
        } catch let e as APIError where e.status == .gone {
            // Only a task nobody holds is aborted; one already running elsewhere is left alone.
            if try await store.task(id: taskId)?.status == .queued {
                _ = try await store.requestAbort(taskId: taskId, now: now())
            }
            logger.warning("task cannot run any more; aborted", metadata: ["task.id": "\(taskId)", "reason": "\(e.message)"])
            throw e
        }
        guard let won = try await store.acquire(taskId: taskId, delegateId: delegateId, now: now()) else {
            let status = (try await store.task(id: taskId))?.status.rawValue ?? "gone"
            throw APIError(.conflict, "task_taken", "Task \(taskId) is no longer queued (status \(status)).")
        }
        logger.debug("task acquired", metadata: ["task.id": "\(taskId)", "delegate.id": "\(delegateId)", "task.attempt": "\(won.attempt)"])
        return TaskPackage(
            taskId: won.id, attempt: won.attempt, type: won.type, timeoutMs: won.timeoutSeconds * 1000, shell: won.shell,
            secrets: secrets, secretOperation: operation)
    }

    /// The delegate may write logs for an attempt it ran, even after losing the task to a retry.
    func appendLogs(taskId: String, delegateId: String, batch: LogBatch) async throws -> LogBatchResponse {
        guard let t = try await store.task(id: taskId) else { throw APIError(.notFound, "task_not_found", "No task \(taskId).") }
        guard batch.attempt >= 1, batch.attempt <= t.history.count, t.history[batch.attempt - 1] == delegateId else {
            throw APIError(.forbidden, "not_assigned", "Delegate \(delegateId) did not run attempt \(batch.attempt) of task \(taskId).")
        }
        let total = batch.entries.reduce(0) { $0 + $1.data.utf8.count }
        guard total <= WireProtocol.maxLogBatchBytes else {
            throw APIError.from(.payloadTooLarge(what: "log batch", size: total, limit: WireProtocol.maxLogBatchBytes))
        }
        return LogBatchResponse(stored: try await store.appendLogs(taskId: taskId, batch: batch))
    }

    func storeResult(taskId: String, delegateId: String, result: TaskResult) async throws -> ResultResponse {
        // A secret task's envelope is stored before the task turns final, so whoever waits for
        // the task sees the secret updated. Only the current attempt's delegate may do this.
        if let t = try await store.task(id: taskId), t.operation != nil, t.status == .running, t.delegateId == delegateId,
            t.attempt == result.attempt
        {
            try await applySecretResult(taskId: taskId, result: result)
        }
        switch try await store.storeResult(taskId: taskId, delegateId: delegateId, result: result, now: now()) {
        case .stored:
            logger.info(
                "task finished",
                metadata: ["task.id": "\(taskId)", "delegate.id": "\(delegateId)", "task.outcome": "\(result.outcome.rawValue)"])
            return ResultResponse(duplicate: false)
        case .duplicate:
            return ResultResponse(duplicate: true)
        case .conflicting:
            throw APIError(
                .conflict, "result_conflict",
                "Task \(taskId) attempt \(result.attempt) already has a different result; results are write-once.")
        case .notFound:
            throw APIError(.notFound, "task_not_found", "No task \(taskId).")
        case .notCurrent(let status, let attempt):
            throw APIError(
                .conflict, "task_reassigned",
                "Task \(taskId) attempt \(result.attempt) is no longer current (status \(status.rawValue), attempt \(attempt)); its result was not stored.")
        }
    }

    public func createTask(_ req: CreateTaskRequest, actor: String = "admin") async throws -> TaskView {
        guard req.type == "shell" else {
            throw APIError(.badRequest, "unsupported_task_type", "Task type '\(req.type)' is not supported; supported: shell.")
        }
        guard let shell = req.shell else {
            throw APIError(.badRequest, "invalid_field", "A shell task needs a 'shell' object with 'command' or 'script'.")
        }
        do { try shell.validate() } catch { throw APIError.from(error) }
        let selectors = req.selectors ?? []
        for s in selectors {
            do { try Selectors.validate(s, what: "Selector") } catch { throw APIError(.badRequest, "invalid_field", error.message) }
        }
        let maxAttempts = req.maxAttempts ?? 1
        guard (1...10).contains(maxAttempts) else {
            throw APIError(.badRequest, "invalid_field", "maxAttempts must be between 1 and 10.")
        }
        let timeout = req.timeoutSeconds ?? 3600
        guard (1...86400).contains(timeout) else {
            throw APIError(.badRequest, "invalid_field", "timeoutSeconds must be between 1 and 86400.")
        }
        let (refs, connectorSelectors) = try await resolveSecretReferences(in: shell, taskScope: req.scope)
        let t = now()
        let record = ManagerStore.TaskRecord(
            id: Identifiers.make(prefix: "t_"), name: req.name, type: req.type, shell: shell,
            selectors: Selectors.normalize(selectors + connectorSelectors), status: .queued, attempt: 0, maxAttempts: maxAttempts,
            timeoutSeconds: timeout, delegateId: nil, history: [], abortRequested: false, result: nil, createdAt: t,
            updatedAt: t, scope: req.scope, operation: nil, secretRefs: refs.isEmpty ? nil : refs)
        try await store.insertTask(record)
        for (reference, secretId) in refs.sorted(by: { $0.key < $1.key }) {
            try await store.audit(actor: actor, action: "secret.use", target: secretId, detail: "task \(record.id) refers to \(reference)", now: t)
        }
        try await notifyEligible(record)
        return try await view(record)
    }

    func notifyEligible(_ t: ManagerStore.TaskRecord) async throws {
        for d in try await store.delegates(status: .active) where Self.eligible(d, for: t) {
            await hub.push(.taskNotice(taskId: t.id), to: d.id)
        }
    }

    public func task(id: String) async throws -> TaskView {
        guard let t = try await store.task(id: id) else { throw APIError(.notFound, "task_not_found", "No task \(id).") }
        return try await view(t)
    }

    public func tasks(status: TaskStatus?) async throws -> [TaskView] {
        var out: [TaskView] = []
        for t in try await store.tasks(status: status, limit: 10_000) { out.append(try await view(t, explain: false)) }
        return out
    }

    public func abortTask(id: String) async throws -> TaskView {
        guard let t = try await store.requestAbort(taskId: id, now: now()) else {
            throw APIError(.notFound, "task_not_found", "No task \(id).")
        }
        if t.status == .running, let d = t.delegateId { await hub.push(.taskAbort(taskId: id), to: d) }
        return try await view(t)
    }

    public func logs(taskId: String) async throws -> [TaskLogView] {
        guard try await store.task(id: taskId) != nil else { throw APIError(.notFound, "task_not_found", "No task \(taskId).") }
        return try await store.logs(taskId: taskId)
    }

    public func delegates() async throws -> [DelegateView] { try await store.delegates().map(\.view) }

    private func view(_ t: ManagerStore.TaskRecord, explain: Bool = true) async throws -> TaskView {
        TaskView(
            id: t.id, name: t.name, type: t.type, status: t.status, selectors: t.selectors, attempt: t.attempt,
            maxAttempts: t.maxAttempts, timeoutSeconds: t.timeoutSeconds, delegateId: t.delegateId,
            delegateHistory: t.history, createdAt: t.createdAt, updatedAt: t.updatedAt, result: t.result,
            waitingReason: explain && t.status == .queued ? try await waitingReason(t) : nil,
            abortRequested: t.abortRequested)
    }

    /// Why a queued task has no taker, in words an operator can act on.
    func waitingReason(_ t: ManagerStore.TaskRecord) async throws -> String {
        let live = try await store.delegates(status: .active)
        if live.isEmpty { return "No live delegate is connected; start an agent with a token from `legate-manager token create`." }
        let typed = live.filter { $0.taskTypes.contains(t.type) }
        if typed.isEmpty { return "No live delegate supports task type '\(t.type)'." }
        let matching = typed.filter { Selectors.matches(tags: $0.tags, selectors: t.selectors) }
        if matching.isEmpty {
            let seen = typed.prefix(5).map { "\($0.name) [\($0.tags.joined(separator: ", "))]" }.joined(separator: "; ")
            return "No live delegate has all the tags [\(t.selectors.joined(separator: ", "))] this task selects; live delegates: \(seen)."
        }
        if matching.allSatisfy({ $0.running >= $0.capacity }) {
            return "All \(matching.count) matching delegate(s) are at capacity; it runs when one has a free slot."
        }
        return "Waiting for one of \(matching.count) matching delegate(s) to acquire it."
    }

    // MARK: Lost delegates

    /// Declares delegates lost after `lostAfterMissed` heartbeat intervals of silence and re-queues
    /// their retryable tasks. Returns the ids declared lost.
    @discardableResult
    public func reap() async throws -> [String] {
        let cutoff = now().addingTimeInterval(-settings.heartbeatInterval.seconds * Double(settings.lostAfterMissed))
        var lost: [String] = []
        for d in try await store.delegates(status: .active) where max(d.lastSeenAt, startedAt) < cutoff {
            try await store.setDelegateStatus(id: d.id, status: .lost)
            let requeued = try await store.releaseTasks(ofDelegate: d.id, now: now())
            await hub.drop(d.id)
            lost.append(d.id)
            logger.warning(
                "delegate lost",
                metadata: ["delegate.id": "\(d.id)", "delegate.name": "\(d.name)", "tasks.requeued": "\(requeued.count)"])
            for id in requeued { if let t = try await store.task(id: id) { try await notifyEligible(t) } }
        }
        return lost
    }

    public func setStreamPolicy(_ policy: StreamPolicy) async throws {
        guard settings.faultInjection else {
            throw APIError(.forbidden, "fault_injection_disabled", "The stream switch needs the manager started with --fault-injection.")
        }
        logger.notice("stream policy changed", metadata: ["policy": "\(policy.rawValue)"])
        await hub.setPolicy(policy)
    }
}
