import Foundation
import LegateCore
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `legate secrets-load --watch`: runs the command with the loaded secrets in its environment and
/// on disk, and keeps both current until the command exits.
///
/// - Dynamic database leases are renewed at two thirds of their grant; when that is impossible
///   (not renewable, max_ttl near, renewal refused) new credentials are created, the output is
///   rewritten and the command restarted (or signalled) before the old ones expire.
/// - The KV entries are polled every `interval`; a change rewrites the output atomically and
///   restarts or signals the command. Changes are found by comparing a digest of the output,
///   never by logging or keeping the values elsewhere.
/// - The Vault token is renewed (or the login repeated) by its handler on schedule.
/// - SIGTERM, SIGINT and SIGQUIT are forwarded to the command, after which the loader only waits
///   for it; SIGHUP, SIGUSR1 and SIGUSR2 are passed on. The loader exits with the command's status.
public final class SecretsSupervisor: Service, Sendable {
    public struct Settings: Sendable {
        public var interval: Duration
        public var onChange: ChangeAction
        /// How long a restarted or stopped command may take to exit before SIGKILL.
        public var stopTimeout: Duration

        public init(interval: Duration, onChange: ChangeAction, stopTimeout: Duration) {
            self.interval = interval
            self.onChange = onChange
            self.stopTimeout = stopTimeout
        }
    }

    let loader: SecretsLoader
    let output: OutputDirectory
    let initial: SecretSnapshot
    let command: SupervisedCommand
    let baseEnvironment: [String: String]
    let settings: Settings
    let logger: Logger
    let now: @Sendable () -> Date
    let status = Mutex<Int32?>(nil)

    /// Environment variables the command never inherits: the loader's own Vault credentials.
    public static let withheld: Set<String> = ["VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID"]
    static let forwarded: [UnixSignal] = [.sigterm, .sigint, .sigquit, .sighup, .sigusr1, .sigusr2]

    /// `initial` must already be published to `output`.
    public init(
        loader: SecretsLoader, output: OutputDirectory, initial: SecretSnapshot, command: [String], environment: [String: String], settings: Settings,
        logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.loader = loader
        self.output = output
        self.initial = initial
        self.command = SupervisedCommand(argv: command)
        self.baseEnvironment = environment.filter { !Self.withheld.contains($0.key) }
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    /// The command's exit status once ``run()`` has returned.
    public var exitStatus: Int32? { status.withLock { $0 } }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: Self.forwarded)
        var rendered = try initial.render()
        let started: pid_t?
        do {
            started = try command.start(environment: environment(rendered))
        } catch {
            for l in initial.leases { await loader.revoke(l) }
            throw error
        }
        guard let pid = started else { return }
        logger.info("started the command", metadata: ["pid": "\(pid)", "command": "\(command.argv.first ?? "")"])
        let result = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await signal in signals {
                    self.logger.info("forwarding a signal to the command", metadata: ["signal": "\(signal)"])
                    self.command.forward(signal.rawValue)
                }
            }
            let result = try await withGracefulShutdownHandler {
                try await self.supervise(&rendered)
            } onGracefulShutdown: {
                self.command.forward(SIGTERM)
            }
            group.cancelAll()
            return result
        }
        status.withLock { $0 = result.status }
        // The command is gone: its database credentials are no longer needed.
        for l in result.leases { await loader.revoke(l) }
        logger.info("the command exited", metadata: ["status": "\(result.status)"])
    }

    func environment(_ r: SecretSnapshot.Rendered) -> [String: String] {
        baseEnvironment.merging(r.environment) { _, secret in secret }
    }

    /// The loop: returns the command's exit status and the leases still held.
    func supervise(_ rendered: inout SecretSnapshot.Rendered) async throws -> (status: Int32, leases: [DatabaseLease]) {
        let clock = ContinuousClock()
        var snapshot = initial
        var nextPoll = clock.now + settings.interval
        var retryAt: [String: ContinuousClock.Instant] = [:]
        var lastStatus: Int32 = 0
        while true {
            if let s = command.reap() { return (s, snapshot.leases) }
            if command.pid == nil { return (lastStatus, snapshot.leases) }
            if Task.isCancelled, !command.isStopping { command.forward(SIGTERM) }
            if command.isStopping {
                if let at = command.stopRequestedAt, clock.now - at > settings.stopTimeout { command.killGroup() }
                await pause(.milliseconds(20))
                continue
            }
            await loader.maintainToken()

            var changed = false
            var replaced: [DatabaseLease] = []
            for i in snapshot.leases.indices {
                let l = snapshot.leases[i]
                if let at = retryAt[l.database], clock.now < at { continue }
                switch LeaseSchedule.action(for: l, now: now()) {
                case .renew:
                    do {
                        snapshot.leases[i] = try await loader.renew(l)
                        logger.info(
                            "renewed database credentials",
                            metadata: ["database": "\(l.database)", "ttl": "\(Int(snapshot.leases[i].lease.duration))s", "max_ttl_near": "\(snapshot.leases[i].capped)"])
                    } catch {
                        logger.notice("cannot renew database credentials; creating new ones", metadata: ["database": "\(l.database)", "error": "\(error.message)"])
                        snapshot.leases[i].capped = true
                    }
                case .replace:
                    guard let db = loader.database(named: l.database) else { continue }
                    do {
                        snapshot.leases[i] = try await loader.createCredentials(db)
                        replaced.append(l)
                        changed = true
                        retryAt[l.database] = nil
                        logger.info(
                            "created new database credentials (the old ones cannot be renewed)",
                            metadata: ["database": "\(l.database)", "ttl": "\(Int(snapshot.leases[i].lease.duration))s"])
                    } catch {
                        retryAt[l.database] = clock.now + .seconds(2)
                        let left = l.lease.expiresAt.timeIntervalSince(now())
                        logger.error(
                            "cannot create new database credentials; retrying",
                            metadata: ["database": "\(l.database)", "expires_in": "\(Int(left))s", "error": "\(error.message)"])
                    }
                case .wait, .never:
                    break
                }
            }

            if clock.now >= nextPoll {
                nextPoll = clock.now + settings.interval
                do {
                    (snapshot.env, snapshot.files) = try await loader.fetchKV()
                    changed = true
                } catch {
                    logger.warning("cannot re-read the secrets; keeping the current ones", metadata: ["error": "\(error.message)"])
                }
            }

            if changed {
                do {
                    let next = try snapshot.render()
                    if next.digest != rendered.digest {
                        try output.publish(env: next.env.bytes, files: next.files)
                        rendered = next
                        logger.info("secrets changed; output rewritten", metadata: ["output": "\(output.path)", "action": "\(settings.onChange.description)"])
                        if let s = try await apply(next) { lastStatus = s }
                    }
                } catch {
                    logger.error("cannot write the changed secrets; the command keeps the current ones", metadata: ["error": "\(error.message)"])
                }
            }
            // A restarted command no longer uses replaced credentials; a signalled one may still
            // be reconnecting, so those are left to expire.
            if settings.onChange == .restart {
                for l in replaced { await loader.revoke(l) }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A sleep that still sleeps in a cancelled task: once stopping, the loop must keep waiting
    /// for the command to exit rather than spin.
    func pause(_ duration: Duration) async {
        if !Task.isCancelled {
            try? await Task.sleep(for: duration)
            return
        }
        let ms = Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(ms)) { c.resume() }
        }
    }

    /// Restarts or signals the command; returns the old command's status after a restart.
    func apply(_ r: SecretSnapshot.Rendered) async throws(LoaderError) -> Int32? {
        switch settings.onChange {
        case .signal(let number, let name):
            command.send(number)
            logger.info("signalled the command to reload", metadata: ["signal": "\(name)"])
            return nil
        case .restart:
            let old = await command.stop(timeout: settings.stopTimeout, pause: pause)
            if let pid = try command.start(environment: environment(r)) {
                logger.info("restarted the command", metadata: ["pid": "\(pid)", "previous_status": "\(old.map(String.init) ?? "?")"])
            }
            return old
        }
    }
}
