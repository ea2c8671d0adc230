import Foundation

/// Starts child processes with posix_spawn, the one way Legate does it (shell tasks, the test
/// harness, the benchmark harness). The child always gets a cleared signal mask and default signal
/// handlers: the agent's runtime blocks or ignores signals (SIGPIPE, SIGALRM) that a child must see.
public enum ProcessSpawner {
    public struct Failure: LegateError {
        public let code = "spawn_failed"
        public let message: String
        /// The errno posix_spawn returned.
        public let errno: Int32
        public var origin: ErrorOrigin { .configuration }
        public var persistence: ErrorPersistence { .permanent }
    }

    /// Spawns `argv` (argv[0] is the program). Output descriptors nil go to /dev/null; stdin is
    /// always /dev/null. With `searchPath`, argv[0] is looked up on PATH.
    public static func spawn(
        argv: [String], environment: [String: String], stdout: Int32? = nil, stderr: Int32? = nil,
        newProcessGroup: Bool = false, workingDirectory: String? = nil, searchPath: Bool = false
    ) throws(Failure) -> pid_t {
        guard let program = argv.first, !program.isEmpty else { throw Failure(message: "Empty command.", errno: EINVAL) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, 2) } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        if let dir = workingDirectory, !dir.isEmpty { _ = c_addchdir(&actions, dir) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setsigmask(&attr, &none)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attr, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attr, Int16(flags))

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc =
            searchPath
            ? posix_spawnp(&pid, program, &actions, &attr, cArgs, cEnv) : posix_spawn(&pid, program, &actions, &attr, cArgs, cEnv)
        guard rc == 0 else { throw Failure(message: "Cannot start '\(program)': \(String(cString: strerror(rc))).", errno: rc) }
        return pid
    }

    /// A pipe whose both ends are close-on-exec (created atomically, so no concurrent spawn inherits them).
    public static func pipe() throws(Failure) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard c_pipe2(&fds, O_CLOEXEC) == 0 else {
            throw Failure(message: "Cannot create a pipe: \(String(cString: strerror(Glibc.errno))).", errno: Glibc.errno)
        }
        return (fds[0], fds[1])
    }

    /// Non-blocking exit check: the exit status (128 + signal when killed) once reaped, nil while running.
    public static func exitStatus(of pid: pid_t, wait: Bool = false) -> Int32? {
        var status: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &status, wait ? 0 : WNOHANG) } while r < 0 && Glibc.errno == EINTR
        guard r == pid else { return r < 0 ? -1 : nil }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

// glibc functions the Swift Glibc module does not import, declared by their C ABI: pipe2 creates
// both ends close-on-exec atomically; addchdir_np sets a child's working directory without a shell.
@_silgen_name("pipe2")
private func c_pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func c_addchdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32
