import Foundation
import KeyProviders
import LegateCore
import LegateWire
import Logging
import NIOSSL
import ServiceLifecycle
import Synchronization

/// Why the agent stopped on its own.
public struct AgentExit: LegateError {
    public let code: String
    public let message: String
    public var origin: ErrorOrigin { .configuration }
    public var persistence: ErrorPersistence { .permanent }

    static func revoked(_ detail: String) -> AgentExit {
        AgentExit(
            code: "token_revoked",
            message: "The manager revoked this delegate's token; running tasks were drained and the agent stopped. Create a new token (`legate-manager token create`) and restart the agent with it. (\(detail))")
    }
}

/// The agent as a `Service`: registers, keeps the stream (or polls), heartbeats, acquires and runs
/// tasks, and drains on graceful shutdown. All decisions about the connection come from
/// ``ConnectionStateMachine``; this type performs its actions and feeds it events.
public struct AgentService: Service, CustomStringConvertible {
    public let configuration: AgentConfiguration.Validated
    public let monitor: AgentMonitor
    let logger: Logger
    let providers: ProviderRegistry
    let environment: [String: String]

    /// `providers` maps connector types to drivers; the default has the built-in connector.
    /// `environment` is where drivers look for host credentials (AWS_*, token files); tests inject it.
    public init(
        configuration: AgentConfiguration.Validated, monitor: AgentMonitor = AgentMonitor(), logger: Logger,
        providers: ProviderRegistry = AgentService.builtinProviders, environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.configuration = configuration
        self.monitor = monitor
        self.logger = logger
        self.providers = providers
        self.environment = environment
    }

    /// ServiceGroup logs its services at start; the default reflection would print the
    /// environment (which may hold AWS_SECRET_ACCESS_KEY).
    public var description: String { "AgentService(\(configuration.raw.name) → \(configuration.manager.baseURL))" }

    public static var builtinProviders: ProviderRegistry {
        var r = ProviderRegistry()
        BuiltinKeyManager.register(in: &r)
        return r
    }

    public static let supportedTaskTypes = [
        "shell", "secret.encrypt", "secret.rewrap", "secret.migrate", "secret.upsert", "secret.delete", "connector.validate",
    ]

    public func run() async throws {
        let tls = try AgentTLS.make(configuration.raw)
        let client = ManagerClient(config: configuration, tls: tls, logger: logger)
        try FileIO.makeDirectory(configuration.raw.stateDirectory, mode: 0o700)
        let transport = try ProviderHTTPClient(configuration: configuration.raw)
        let activeSecrets = ActiveSecrets()
        let worker = SecretWorker(
            registry: providers,
            context: ProviderContext(
                stateDirectory: configuration.raw.stateDirectory, logger: logger, retry: RetryPolicy(maxAttempts: 8, deadline: .seconds(20)), transport: transport,
                environment: environment),
            revealed: { owner, values in activeSecrets.add(task: owner, values: values) })
        let loop = AgentLoop(
            configuration: configuration, client: client, tls: tls, monitor: monitor, logger: logger, worker: worker, activeSecrets: activeSecrets)
        do {
            // Driver upkeep (Vault token renewal) runs beside the loop and ends with it.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await loop.run() }
                group.addTask { await worker.maintainDrivers(every: .seconds(2)) }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            await client.shutdown()
            await transport.shutdown()
            throw error
        }
        await client.shutdown()
        await transport.shutdown()
    }
}

/// Events the loop reacts to, from its child tasks.
enum AgentEvent: Sendable {
    case tick
    case drain
    case registered(RegisterResponse)
    case registrationFailed(ClientError)
    case stream(generation: Int, StreamConnection.Event)
    case notices([StreamMessage])
    case heartbeatAck(HeartbeatAck)
    case callFailed(ClientError)
    case sessionRefreshed(SessionResponse)
    case sessionRefreshFailed(ClientError)
    case acquireFailed(taskId: String, ClientError)
    case taskStarted(taskId: String)
    case taskFinished(taskId: String, delivered: Bool)
}

/// The single-threaded heart of the agent: one event stream, processed in order.
final class AgentLoop: Sendable {
    let configuration: AgentConfiguration.Validated
    let client: ManagerClient
    let tls: TLSConfiguration
    let monitor: AgentMonitor
    let logger: Logger
    let sessions = SessionProvider()
    let instanceId = Identifiers.make(prefix: "i_")
    let pollGeneration = Atomic<Int>(0)
    let worker: SecretWorker
    /// Secrets of running tasks and connector credentials, masked out of the agent's own log lines.
    let activeSecrets: ActiveSecrets

    init(
        configuration: AgentConfiguration.Validated, client: ManagerClient, tls: TLSConfiguration, monitor: AgentMonitor,
        logger: Logger, worker: SecretWorker, activeSecrets: ActiveSecrets
    ) {
        self.activeSecrets = activeSecrets
        self.configuration = configuration
        self.client = client
        self.tls = tls
        self.monitor = monitor
        self.logger = logger
        self.worker = worker
        let secrets = activeSecrets
        LogRedaction.install { secrets.mask($0) }
    }

    var capacity: Int { configuration.raw.capacity }

    func registerRequest(previous: String?) -> RegisterRequest {
        RegisterRequest(
            name: configuration.raw.name, hostname: AgentConfiguration.defaultHostname(), version: LegateVersion.current,
            tags: configuration.raw.tags, capacity: capacity, supportedTaskTypes: AgentService.supportedTaskTypes,
            instanceId: instanceId, delegateId: previous)
    }

    /// Registers, retrying transient failures with backoff. Permanent failures are thrown.
    func register(previous: String?) async throws -> RegisterResponse {
        let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(30))
        var attempt = 0
        while true {
            monitor.update { $0.registrationAttempts += 1 }
            do {
                return try await client.register(registerRequest(previous: previous), token: configuration.token)
            } catch {
                monitor.update { $0.lastRegistrationError = error.message }
                guard error.isTransient else { throw error }
                let delay = backoff.delay(attempt: attempt)
                attempt += 1
                logger.warning(
                    "registration failed, retrying",
                    metadata: ["error": "\(error.message)", "retry.in_ms": "\(delay.milliseconds)"])
                try await Task.sleep(for: delay)
            }
        }
    }

    func run() async throws {
        let first: RegisterResponse
        do {
            first = try await cancelWhenGracefulShutdown { try await self.register(previous: nil) }
        } catch is CancellationError {
            logger.info("stopped before registration completed")
            return
        }
        let (events, sink) = AsyncStream.makeStream(of: AgentEvent.self)
        var state = LoopState()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(100))
                        sink.yield(.tick)
                    }
                }
                await self.handleRegistered(first, state: &state, group: &group, sink: sink)
                for await event in events {
                    if let exit = await self.handle(event, state: &state, group: &group, sink: sink) {
                        sink.finish()
                        group.cancelAll()
                        if let exit { throw exit }
                        return
                    }
                }
            }
        } onGracefulShutdown: {
            sink.yield(.drain)
        }
    }

    // MARK: Loop state

    struct LoopState {
        var machine: ConnectionStateMachine?
        var heartbeatInterval: Duration = .seconds(10)
        var pollWait: Duration = .seconds(10)
        var stream: StreamConnection?
        var streamGeneration = 0
        /// Tasks acquiring or running, with their stop switch.
        var slots: [String: TaskControl] = [:]
        var started: Set<String> = []
        /// Noticed while full; tried when a slot frees.
        var backlog: [String] = []
        var backlogSet: Set<String> = []
        var registering = false
        var draining = false
        var drainDeadline: ContinuousClock.Instant?
        var stopSent = false
        var revoked: String?
        var pausedUntil: ContinuousClock.Instant?

    }

    typealias Group = ThrowingDiscardingTaskGroup<any Error>
    typealias Sink = AsyncStream<AgentEvent>.Continuation

    // MARK: Events

    /// Returns `.some(nil)` to stop normally, `.some(error)` to stop with an error, nil to go on.
    private func handle(_ event: AgentEvent, state: inout LoopState, group: inout Group, sink: Sink) async -> AgentExit?? {
        let now = ContinuousClock.now
        switch event {
        case .tick:
            monitor.loopTick(now: now)
            if var m = state.machine, !state.registering {
                let actions = m.tick(now: now, jitter: .random(in: 0..<1))
                state.machine = m
                await perform(actions, state: &state, group: &group, sink: sink)
            }
            if state.draining, let deadline = state.drainDeadline, now >= deadline, !state.stopSent {
                state.stopSent = true
                logger.warning("drain grace over; stopping running tasks", metadata: ["tasks": "\(state.slots.count)"])
                for c in state.slots.values { c.stop(.shutdown) }
            }

        case .drain:
            beginDrain(state: &state, reason: "shutdown requested")

        case .registered(let response):
            state.registering = false
            await handleRegistered(response, state: &state, group: &group, sink: sink)

        case .registrationFailed(let error):
            state.registering = false
            if error.kind == .revoked {
                revoke(error.message, state: &state)
            } else {
                logger.critical("re-registration failed permanently", metadata: ["error": "\(error.message)"])
                return .some(AgentExit(code: error.code, message: error.message))
            }

        case .stream(let generation, let streamEvent):
            guard generation == state.streamGeneration, state.stream != nil else { break }
            switch streamEvent {
            case .connected:
                if var m = state.machine {
                    let actions = m.socketConnected(now: now)
                    state.machine = m
                    await perform(actions, state: &state, group: &group, sink: sink)
                }
            case .message(let message):
                await handle(message, state: &state, group: &group, sink: sink)
            case .invalidFrame(let why):
                logger.warning("ignored an invalid frame from the manager", metadata: ["error": "\(why)"])
            case .closed(let why):
                state.stream = nil
                logger.info("stream closed", metadata: ["reason": "\(why)"])
                if var m = state.machine {
                    let actions = m.socketFailed(now: now, jitter: .random(in: 0..<1))
                    state.machine = m
                    await perform(actions, state: &state, group: &group, sink: sink)
                }
            }

        case .notices(let notices):
            for n in notices { await handle(n, state: &state, group: &group, sink: sink) }

        case .heartbeatAck(let ack):
            monitor.update { $0.lastHeartbeatAck = Date() }
            for id in ack.abortTaskIds { state.slots[id]?.stop(.abortedByManager) }

        case .callFailed(let error):
            await handleCallFailure(error, state: &state, group: &group, sink: sink)

        case .sessionRefreshed(let s):
            await sessions.update(token: s.sessionToken)
            state.machine?.sessionIssued(now: now, validFor: .seconds(max(1, s.sessionExpiresAt.timeIntervalSinceNow)))
            monitor.update { $0.sessionRefreshes += 1 }
            logger.debug("session refreshed")

        case .sessionRefreshFailed(let error):
            state.machine?.sessionRefreshFailed(now: now)
            logger.warning("session refresh failed", metadata: ["error": "\(error.message)"])
            await handleCallFailure(error, state: &state, group: &group, sink: sink)

        case .acquireFailed(let taskId, let error):
            state.slots[taskId] = nil
            if error.kind != .conflict && error.kind != .notFound {
                logger.warning("acquire failed", metadata: ["task.id": "\(taskId)", "error": "\(error.message)"])
                await handleCallFailure(error, state: &state, group: &group, sink: sink)
            }
            startFromBacklog(state: &state, group: &group, sink: sink)
            updateMonitor(state)

        case .taskStarted(let taskId):
            state.started.insert(taskId)

        case .taskFinished(let taskId, _):
            state.slots[taskId] = nil
            state.started.remove(taskId)
            monitor.update { $0.tasksCompleted += 1 }
            startFromBacklog(state: &state, group: &group, sink: sink)
            updateMonitor(state)
        }

        if state.draining && state.slots.isEmpty {
            finish(state: &state)
            if let why = state.revoked { return .some(.revoked(why)) }
            logger.info("drained; stopping")
            return .some(nil)
        }
        return nil
    }

    private func handle(_ message: StreamMessage, state: inout LoopState, group: inout Group, sink: Sink) async {
        switch message {
        case .taskNotice(let id):
            guard !state.draining, state.slots[id] == nil else { return }
            if let until = state.pausedUntil, ContinuousClock.now < until { return }
            if state.slots.count < capacity {
                startTask(id, state: &state, group: &group, sink: sink)
            } else if state.backlogSet.insert(id).inserted {
                state.backlog.append(id)
                if state.backlog.count > 1000 { state.backlogSet.remove(state.backlog.removeFirst()) }
            }
        case .taskAbort(let id):
            state.slots[id]?.stop(.abortedByManager)
        case .heartbeatAck(let ack):
            monitor.update { $0.lastHeartbeatAck = Date() }
            if var m = state.machine {
                let actions = m.heartbeatAcknowledged(seq: ack.seq, now: .now)
                state.machine = m
                await perform(actions, state: &state, group: &group, sink: sink)
            }
            for id in ack.abortTaskIds { state.slots[id]?.stop(.abortedByManager) }
        case .drain(let reason):
            // Reserved in v1: pause acquiring for one interval.
            logger.notice("manager asked to pause", metadata: ["reason": "\(reason)"])
            state.pausedUntil = .now + state.heartbeatInterval
        case .error(let code, let text):
            if code == APIErrorCodes.revoked {
                revoke(text, state: &state)
            } else if ["session_expired", "session_invalid", "delegate_unknown"].contains(code) {
                await handleCallFailure(ClientError(kind: .unauthorized, code: code, message: text), state: &state, group: &group, sink: sink)
            } else {
                logger.warning("manager reported a stream error", metadata: ["code": "\(code)", "error": "\(text)"])
            }
        case .hello, .heartbeat:
            break
        }
    }

    private func handleCallFailure(_ error: ClientError, state: inout LoopState, group: inout Group, sink: Sink) async {
        if error.kind == .revoked {
            revoke(error.message, state: &state)
        } else if error.needsRegistration, !state.registering {
            logger.notice("session no longer accepted; registering again", metadata: ["reason": "\(error.code)"])
            state.registering = true
            closeConnections(state: &state)
            state.machine = nil
            let previous = await sessions.delegateId
            group.addTask {
                do {
                    sink.yield(.registered(try await self.register(previous: previous)))
                } catch let e as ClientError {
                    sink.yield(.registrationFailed(e))
                } catch {}
            }
        } else if error.kind != .cancelled {
            logger.debug("call to manager failed", metadata: ["error": "\(error.message)"])
        }
    }

    private func handleRegistered(_ r: RegisterResponse, state: inout LoopState, group: inout Group, sink: Sink) async {
        await sessions.update(delegateId: r.delegateId, token: r.sessionToken)
        state.heartbeatInterval = .milliseconds(max(100, r.heartbeatIntervalMs))
        state.pollWait = .milliseconds(max(100, min(r.pollIntervalMs, 30_000)))
        let now = ContinuousClock.now
        var machine = ConnectionStateMachine(configuration: .init(heartbeatInterval: state.heartbeatInterval), now: now)
        machine.sessionIssued(now: now, validFor: .seconds(max(1, r.sessionExpiresAt.timeIntervalSinceNow)))
        state.machine = machine
        logger.info(
            "registered with manager",
            metadata: ["delegate.id": "\(r.delegateId)", "manager": "\(configuration.manager.baseURL)",
                       "heartbeat_ms": "\(r.heartbeatIntervalMs)"])
        monitor.update {
            $0.registered = true
            $0.delegateId = r.delegateId
            $0.registrations += 1
            $0.lastRegistrationError = nil
            $0.lastHeartbeatAck = Date()
        }
        let actions = machine.tick(now: now, jitter: 0)
        state.machine = machine
        await perform(actions, state: &state, group: &group, sink: sink)
    }

    // MARK: Actions

    private func perform(_ actions: [ConnectionStateMachine.Action], state: inout LoopState, group: inout Group, sink: Sink) async {
        for action in actions {
            switch action {
            case .openSocket:
                state.stream?.close()
                state.streamGeneration += 1
                let generation = state.streamGeneration
                let connection = StreamConnection(generation: generation)
                state.stream = connection
                let url = configuration.manager.streamBaseURL + WireProtocol.apiPrefix + "/delegates/\(await sessions.delegateId)/stream"
                let session = await sessions.token
                let tls = self.tls
                let proxy = configuration.proxy
                let logger = self.logger
                group.addTask {
                    await connection.run(url: url, session: session, tls: tls, proxy: proxy, logger: logger) { event in
                        sink.yield(.stream(generation: generation, event))
                    }
                }
            case .closeSocket:
                state.stream?.close()
                state.stream = nil
            case .sendHeartbeat(let seq, let via):
                let hb = Heartbeat(
                    seq: seq, running: state.slots.count, capacity: capacity, runningTaskIds: Array(state.started),
                    mode: state.machine?.mode ?? .polling, draining: state.draining)
                if via == .socket, let stream = state.stream {
                    stream.send(.heartbeat(hb))
                } else {
                    group.addTask {
                        do {
                            let ack = try await self.client.heartbeat(hb, delegateId: await self.sessions.delegateId, session: await self.sessions.token)
                            sink.yield(.heartbeatAck(ack))
                        } catch {
                            sink.yield(.callFailed(ClientError.wrap(error)))
                        }
                    }
                }
            case .startPolling:
                let generation = pollGeneration.add(1, ordering: .sequentiallyConsistent).newValue
                let wait = state.pollWait
                group.addTask { await self.pollLoop(generation: generation, wait: wait, sink: sink) }
            case .stopPolling:
                pollGeneration.add(1, ordering: .sequentiallyConsistent)
            case .modeChanged(let mode):
                if mode == .socket {
                    logger.info("receiving notices over the WebSocket stream")
                    monitor.update {
                        if $0.mode == .polling { $0.returnsToSocket += 1 }
                        $0.mode = .socket
                    }
                } else {
                    logger.warning("stream unavailable; polling for notices over HTTPS")
                    monitor.update {
                        if $0.mode == .socket { $0.fallbacksToPolling += 1 }
                        $0.mode = .polling
                    }
                }
            case .refreshSession:
                group.addTask {
                    do {
                        let s = try await self.client.refreshSession(delegateId: await self.sessions.delegateId, session: await self.sessions.token)
                        sink.yield(.sessionRefreshed(s))
                    } catch {
                        sink.yield(.sessionRefreshFailed(ClientError.wrap(error)))
                    }
                }
            }
        }
    }

    private func pollLoop(generation: Int, wait: Duration, sink: Sink) async {
        let backoff = Backoff(initial: .milliseconds(250), maximum: .seconds(5))
        var failures = 0
        while pollGeneration.load(ordering: .sequentiallyConsistent) == generation, !Task.isCancelled {
            do {
                let batch = try await client.poll(delegateId: await sessions.delegateId, session: await sessions.token, wait: wait)
                failures = 0
                if !batch.notices.isEmpty { sink.yield(.notices(batch.notices)) }
            } catch {
                if error.kind == .cancelled || Task.isCancelled { return }
                sink.yield(.callFailed(error))
                failures += 1
                try? await Task.sleep(for: backoff.delay(attempt: failures))
            }
        }
    }

    private func startTask(_ id: String, state: inout LoopState, group: inout Group, sink: Sink) {
        let control = TaskControl()
        state.slots[id] = control
        updateMonitor(state)
        group.addTask { await self.runTask(id, control: control, sink: sink) }
    }

    private func startFromBacklog(state: inout LoopState, group: inout Group, sink: Sink) {
        guard !state.draining else { return }
        while state.slots.count < capacity, !state.backlog.isEmpty {
            let id = state.backlog.removeFirst()
            state.backlogSet.remove(id)
            if state.slots[id] == nil { startTask(id, state: &state, group: &group, sink: sink) }
        }
    }

    /// Acquire, run, ship logs, deliver the result until the manager confirms it.
    private func runTask(_ id: String, control: TaskControl, sink: Sink) async {
        let package: TaskPackage
        do {
            package = try await client.acquire(taskId: id, delegateId: await sessions.delegateId, session: await sessions.token)
        } catch {
            sink.yield(.acquireFailed(taskId: id, error))
            return
        }
        sink.yield(.taskStarted(taskId: id))
        let log = logger.with("task.id", id)
        log.info("task started", metadata: ["task.attempt": "\(package.attempt)", "task.type": "\(package.type)"])
        let shipper = LogShipper(taskId: id, attempt: package.attempt, session: sessions, client: client, logger: log)
        let result: TaskResult = await withTaskGroup(of: Void.self) { group in
            group.addTask { await shipper.runFlusher() }
            let r = await self.execute(package, control: control, shipper: shipper, logger: log)
            await shipper.finish()
            return r
        }
        activeSecrets.remove(task: id)
        var final = result
        final.logEntries = await shipper.entriesWritten
        let delivered = await deliver(final, taskId: id, logger: log)
        log.info("task finished", metadata: ["task.outcome": "\(final.outcome.rawValue)", "result.delivered": "\(delivered)"])
        sink.yield(.taskFinished(taskId: id, delivered: delivered))
    }

    /// Runs one task by type. Secret values are opened just in time and masked everywhere.
    private func execute(_ package: TaskPackage, control: TaskControl, shipper: LogShipper, logger log: Logger) async -> TaskResult {
        let started = Date()
        func failure(_ message: String) -> TaskResult {
            TaskResult(
                attempt: package.attempt, outcome: .error, exitCode: nil, message: message, startedAt: started,
                finishedAt: Date(), logEntries: 0)
        }
        switch package.type {
        case "shell":
            guard let spec = package.shell else { return failure("Shell task without a shell spec.") }
            let prepared: SecretInjector.Prepared
            do {
                prepared = try await SecretInjector.prepare(package, spec: spec, worker: worker)
            } catch let e as any LegateError {
                monitor.update { $0.providerErrors[e.origin.rawValue, default: 0] += 1 }
                return failure(e.message)
            } catch {
                return failure("Cannot prepare the task's secrets: \(error)")
            }
            activeSecrets.add(task: package.taskId, values: prepared.values)
            await shipper.setMasker(prepared.masker)
            var p = package
            p.shell = prepared.spec
            var r = await ShellTaskRunner(logger: log).run(p, control: control, shipper: shipper)
            SecretInjector.cleanUp(prepared)
            r.message = r.message.map { prepared.masker.mask($0) }
            return r
        case "secret.encrypt", "secret.rewrap", "secret.migrate", "secret.upsert", "secret.delete", "connector.validate":
            guard let op = package.secretOperation else { return failure("\(package.type) task without an operation.") }
            if let b64 = op.plaintext, let raw = Data(base64Encoded: b64) {
                activeSecrets.add(task: package.taskId, values: [Array(raw)])
            }
            do {
                let output = try await worker.perform(op, taskId: package.taskId)
                return TaskResult(
                    attempt: package.attempt, outcome: .succeeded, exitCode: nil, message: nil, startedAt: started,
                    finishedAt: Date(), logEntries: 0, output: output)
            } catch let e as any LegateError {
                monitor.update { $0.providerErrors[e.origin.rawValue, default: 0] += 1 }
                log.warning("secret task failed", metadata: ["error": "\(e.message)", "code": "\(e.code)"])
                return failure(e.message)
            } catch {
                return failure("\(package.type) failed: \(error)")
            }
        default:
            return failure("This delegate does not support task type '\(package.type)'.")
        }
    }

    private func deliver(_ result: TaskResult, taskId: String, logger log: Logger) async -> Bool {
        let backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(5))
        var attempt = 0
        while true {
            do {
                _ = try await client.sendResult(result, taskId: taskId, delegateId: await sessions.delegateId, session: await sessions.token)
                return true
            } catch {
                guard error.isTransient || error.needsRegistration else {
                    log.error("result rejected by the manager", metadata: ["error": "\(error.message)"])
                    return false
                }
                attempt += 1
                if attempt % 10 == 1 { log.warning("result delivery failed, retrying", metadata: ["error": "\(error.message)"]) }
                do { try await Task.sleep(for: backoff.delay(attempt: attempt)) } catch { return false }
            }
        }
    }

    // MARK: Drain and stop

    private func beginDrain(state: inout LoopState, reason: String) {
        guard !state.draining else { return }
        state.draining = true
        state.drainDeadline = .now + configuration.raw.drainGrace
        state.backlog = []
        state.backlogSet = []
        logger.notice("draining", metadata: ["reason": "\(reason)", "tasks.running": "\(state.slots.count)",
                                             "grace_s": "\(configuration.raw.drainGrace.seconds)"])
        updateMonitor(state)
    }

    private func revoke(_ message: String, state: inout LoopState) {
        guard state.revoked == nil else { return }
        logger.error("delegate token revoked by the manager; draining and exiting", metadata: ["detail": "\(message)"])
        state.revoked = message
        beginDrain(state: &state, reason: "token revoked")
    }

    private func closeConnections(state: inout LoopState) {
        state.stream?.close()
        state.stream = nil
        state.streamGeneration += 1
        pollGeneration.add(1, ordering: .sequentiallyConsistent)
    }

    private func finish(state: inout LoopState) {
        closeConnections(state: &state)
        state.machine = nil
    }

    private func updateMonitor(_ state: LoopState) {
        monitor.update {
            $0.running = state.slots.count
            $0.draining = state.draining
        }
    }
}

enum APIErrorCodes {
    static let revoked = "token_revoked"
}

extension Logger {
    func with(_ key: String, _ value: String) -> Logger {
        var l = self
        l[metadataKey: key] = "\(value)"
        return l
    }
}
