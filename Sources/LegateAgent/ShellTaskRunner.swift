import Foundation
import LegateCore
import LegateWire
import Logging
import NIOCore
import NIOPosix

/// Runs one `shell` task: spawns it in its own process group, streams stdout/stderr to a
/// ``LogShipper``, enforces the timeout and honours aborts by killing the group.
struct ShellTaskRunner: Sendable {
    /// Time between SIGTERM and SIGKILL when a task is stopped.
    var killGrace: Duration = .seconds(2)
    /// How long output may keep flowing after the main process exited (background children).
    var drainOutputGrace: Duration = .seconds(2)
    let logger: Logger

    /// Variables passed through from the agent's own environment; nothing else is (the agent's
    /// environment holds its token).
    static let inherited = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR"]

    func run(_ package: TaskPackage, control: TaskControl, shipper: LogShipper) async -> TaskResult {
        let started = Date()
        func result(_ outcome: TaskOutcome, _ code: Int32?, _ message: String?) async -> TaskResult {
            TaskResult(
                attempt: package.attempt, outcome: outcome, exitCode: code, message: message, startedAt: started,
                finishedAt: Date(), logEntries: await shipper.entriesWritten)
        }
        guard let spec = package.shell else {
            return await result(.error, nil, "Task \(package.taskId) of type shell has no shell spec.")
        }
        do { try spec.validate() } catch { return await result(.error, nil, error.message) }

        let argv: [String]
        if let command = spec.command, !command.isEmpty {
            argv = command
        } else {
            argv = [spec.shell ?? "/bin/sh", "-c", spec.script ?? ""]
        }
        var env: [String: String] = [:]
        let own = ProcessInfo.processInfo.environment
        for k in Self.inherited { if let v = own[k] { env[k] = v } }
        if env["PATH"] == nil { env["PATH"] = "/usr/local/bin:/usr/bin:/bin" }
        for (k, v) in spec.env ?? [:] { env[k] = v }
        env["LEGATE_TASK_ID"] = package.taskId
        env["LEGATE_TASK_ATTEMPT"] = String(package.attempt)

        let process: ShellProcess
        do {
            process = try ShellProcess.spawn(argv: argv, environment: env, workingDirectory: spec.workingDirectory)
        } catch let e as ShellProcess.SpawnError {
            await shipper.append(.stderr, Array("[legate] \(e.message)\n".utf8))
            return await result(.error, nil, e.message)
        } catch {
            return await result(.error, nil, "Cannot start the task: \(error)")
        }
        logger.debug("task process started", metadata: ["task.id": "\(package.taskId)", "pid": "\(process.pid)"])

        let timeout = Duration.milliseconds(max(1, package.timeoutMs))
        let outcome = await withTaskGroup(of: Exit?.self) { group -> Exit in
            group.addTask { await Self.pump(fd: process.stdout, stream: .stdout, to: shipper); return nil }
            group.addTask { await Self.pump(fd: process.stderr, stream: .stderr, to: shipper); return nil }
            let exit = await watch(process, timeout: timeout, control: control)
            // Give background children a moment to finish writing, then end them and the readers.
            let deadline = ContinuousClock.now + drainOutputGrace
            var readersDone = 0
            while readersDone < 2 {
                let remaining = deadline - ContinuousClock.now
                if remaining <= .zero { break }
                let done = await Self.next(of: &group, within: remaining)
                if done { readersDone += 1 } else { break }
            }
            if readersDone < 2 { process.signalGroup(SIGKILL) }
            // Ends leftover sleepers, and readers held open by escaped background processes.
            group.cancelAll()
            while await group.next() != nil {}
            return exit
        }

        switch outcome {
        case .exited(let code):
            return await result(code == 0 ? .succeeded : .failed, code, code == 0 ? nil : "Exited with status \(code).")
        case .timedOut(let code):
            return await result(.timedOut, code, "Timed out after \(package.timeoutMs / 1000) s; the process group was killed.")
        case .stopped(let reason, let code):
            let why = reason == .abortedByManager ? "Aborted from the manager" : "Stopped because the agent is shutting down"
            return await result(.aborted, code, "\(why); the process group was killed.")
        }
    }

    enum Exit: Sendable {
        case exited(Int32)
        case timedOut(Int32)
        case stopped(TaskControl.StopReason, Int32)
    }

    /// Polls for exit (cheap: a WNOHANG waitpid with growing intervals), the deadline and the stop switch.
    private func watch(_ p: ShellProcess, timeout: Duration, control: TaskControl) async -> Exit {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var pause = Duration.milliseconds(1)
        while true {
            if let code = p.tryWait() { return .exited(code) }
            if let reason = control.stopReason {
                return .stopped(reason, await terminate(p))
            }
            if clock.now >= deadline {
                return .timedOut(await terminate(p))
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    /// SIGTERM to the group, SIGKILL after the grace; returns the exit status.
    private func terminate(_ p: ShellProcess) async -> Int32 {
        p.signalGroup(SIGTERM)
        let until = ContinuousClock.now + killGrace
        while ContinuousClock.now < until {
            if let code = p.tryWait() {
                p.signalGroup(SIGKILL)
                return code
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        p.signalGroup(SIGKILL)
        while true {
            if let code = p.tryWait() { return code }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    private static func next(of group: inout TaskGroup<Exit?>, within: Duration) async -> Bool {
        // The readers return nil when their pipe reaches EOF; a group with only readers left
        // answers quickly once they end. We bound the wait with a sleeper child.
        group.addTask {
            try? await Task.sleep(for: within)
            return .exited(-999)
        }
        let first = await group.next()
        if case .some(.some(.exited(-999))) = first { return false }
        return true
    }

    /// Reads a pipe until EOF (or cancellation), forwarding chunks to the shipper.
    static func pump(fd: Int32, stream: LogStream, to shipper: LogShipper) async {
        do {
            let channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(input: fd) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            try await channel.executeThenClose { inbound, _ in
                for try await buffer in inbound {
                    await shipper.append(stream, Array(buffer.readableBytesView))
                }
            }
        } catch {
            // EOF races and cancellation end the pump; the exit status is what matters.
        }
    }
}
