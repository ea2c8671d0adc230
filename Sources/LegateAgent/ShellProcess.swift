import Foundation
import LegateCore

/// A child process started with posix_spawn in its own process group, so a timeout or abort can
/// kill everything the task started (`kill(-pgid)`). Signals are reset to their defaults in the
/// child (the agent ignores SIGPIPE, a shell task must not inherit that).
struct ShellProcess: Sendable {
    let pid: pid_t
    let stdout: Int32
    let stderr: Int32

    struct SpawnError: LegateError {
        let code = "spawn_failed"
        let message: String
        var origin: ErrorOrigin { .configuration }
        var persistence: ErrorPersistence { .permanent }
    }

    static func spawn(argv: [String], environment: [String: String], workingDirectory: String?) throws -> ShellProcess {
        guard let program = argv.first, !program.isEmpty else { throw SpawnError(message: "Empty command.") }
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard c_pipe2(&outPipe, O_CLOEXEC) == 0, c_pipe2(&errPipe, O_CLOEXEC) == 0 else {
            throw SpawnError(message: "Cannot create pipes: \(String(cString: strerror(errno))).")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let dir = workingDirectory, !dir.isEmpty {
            _ = c_addchdir(&actions, dir)
        }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigdefault(&attr, &allSignals)
        posix_spawnattr_setsigmask(&attr, &noSignals)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, &attr, cArgs, cEnv)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            let reason = String(cString: strerror(rc))
            if let dir = workingDirectory, rc == ENOENT, !FileManager.default.fileExists(atPath: dir) {
                throw SpawnError(message: "Working directory \(dir) does not exist on this delegate.")
            }
            throw SpawnError(message: "Cannot start '\(program)': \(reason). Check the command exists on the delegate's PATH.")
        }
        return ShellProcess(pid: pid, stdout: outPipe[0], stderr: errPipe[0])
    }

    /// Non-blocking exit check: the exit code (or 128+signal) once the process has ended.
    func tryWait() -> Int32? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return r < 0 ? -1 : nil }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    /// Signals the whole process group.
    func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }
}

// glibc functions the Swift Glibc module does not import. Declared here by their C ABI: pipe2
// creates both ends close-on-exec atomically, so a pipe never leaks into a concurrently spawned
// task; addchdir_np sets the task's working directory without a shell wrapper.
@_silgen_name("pipe2")
private func c_pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func c_addchdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32
