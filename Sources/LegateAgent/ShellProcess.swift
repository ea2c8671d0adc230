import Foundation
import LegateCore

/// A shell task's process, started in its own process group so a timeout or abort can kill
/// everything the task started (`kill(-pgid)`), with stdout and stderr on pipes.
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
        let program = argv.first ?? ""
        do {
            let out = try ProcessSpawner.pipe()
            let err: (read: Int32, write: Int32)
            do { err = try ProcessSpawner.pipe() } catch let e {
                close(out.read)
                close(out.write)
                throw e
            }
            let pid: pid_t
            do {
                pid = try ProcessSpawner.spawn(
                    argv: argv, environment: environment, stdout: out.write, stderr: err.write, newProcessGroup: true,
                    workingDirectory: workingDirectory, searchPath: true)
            } catch {
                for fd in [out.read, out.write, err.read, err.write] { close(fd) }
                throw error
            }
            close(out.write)
            close(err.write)
            return ShellProcess(pid: pid, stdout: out.read, stderr: err.read)
        } catch let error as ProcessSpawner.Failure {
            if let dir = workingDirectory, error.errno == ENOENT, !FileManager.default.fileExists(atPath: dir) {
                throw SpawnError(message: "Working directory \(dir) does not exist on this delegate.")
            }
            if error.errno == ENOENT || error.errno == EACCES {
                throw SpawnError(message: "Cannot start '\(program)': \(String(cString: strerror(error.errno))). Check the command exists on the delegate's PATH.")
            }
            throw SpawnError(message: error.message)
        } catch {
            throw SpawnError(message: "Cannot start '\(program)': \(error)")
        }
    }

    /// Non-blocking exit check: the exit code (or 128+signal) once the process has ended.
    func tryWait() -> Int32? { ProcessSpawner.exitStatus(of: pid) }

    /// Signals the whole process group.
    func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }
}
