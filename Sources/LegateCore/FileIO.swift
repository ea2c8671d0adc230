import Foundation

/// File helpers that set permissions at creation, so a secret file is never briefly world-readable.
public enum FileIO {
    public struct Failure: LegateError {
        public let code = "file_error"
        public let message: String
        public var origin: ErrorOrigin { .configuration }
        public var persistence: ErrorPersistence { .permanent }
    }

    public static func makeDirectory(_ path: String, mode: Int) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
        } catch {
            throw Failure(message: "Cannot create directory \(path): \(error.localizedDescription). Check its parent exists and is writable.")
        }
    }

    /// Writes atomically (temp file + rename) with `mode` set before any byte is written.
    /// `sync: false` skips the fsync, for frequently rewritten files that need atomicity but not
    /// durability (the agent's status file).
    public static func write(_ text: String, to path: String, mode: Int, sync: Bool = true) throws {
        try write(Data(text.utf8), to: path, mode: mode, sync: sync)
    }

    public static func write(_ data: Data, to path: String, mode: Int, sync: Bool = true) throws {
        let tmp = path + ".tmp-\(getpid())-" + Identifiers.make(prefix: "")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            throw Failure(message: "Cannot write \(path): \(String(cString: strerror(errno))). Check the directory is writable.")
        }
        var ok = true
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)  // crash-ok: a Data buffer always has a base address when count > 0
                if n <= 0 {
                    if errno == EINTR { continue }
                    ok = false
                    return
                }
                offset += n
            }
        }
        fchmod(fd, mode_t(mode))
        if sync, fsync(fd) != 0 { ok = false }
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw Failure(message: "Cannot write \(path): \(String(cString: strerror(errno))).")
        }
    }

    /// Creates `path` with `data` only if it does not exist yet (temp file + link, so a
    /// concurrent creator either wins or sees the other's complete file). Returns false if it existed.
    public static func createExclusive(_ data: Data, at path: String, mode: Int) throws -> Bool {
        let tmp = path + ".new-" + Identifiers.make(prefix: "")
        try write(data, to: tmp, mode: mode)
        defer { unlink(tmp) }
        if link(tmp, path) == 0 { return true }
        if errno == EEXIST { return false }
        throw Failure(message: "Cannot create \(path): \(String(cString: strerror(errno))).")
    }

    /// Overwrites a file's bytes in place with zeros, then removes it (best effort against
    /// recovery of a secret from freed blocks; copy-on-write filesystems may keep old blocks).
    public static func shred(_ path: String) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            var st = stat()
            if fstat(fd, &st) == 0, st.st_size > 0 {
                let zeros = [UInt8](repeating: 0, count: Int(st.st_size))
                _ = zeros.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                fsync(fd)
            }
            close(fd)
        }
        unlink(path)
    }

    /// Reads a small text file (token, key, config); `what` names it in errors.
    public static func readText(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(message: "Cannot read \(what) at \(path): the file does not exist or is not readable by this user.")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(message: "\(what) at \(path) is not UTF-8 text.")
        }
        return text
    }
}
