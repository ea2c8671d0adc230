import Foundation
import LegateCore
import LegateCrypto

/// The loader's output: `<path>/.env` and `<path>/files/<name>`, files 0600 and directories 0700,
/// published all at once so a reader sees the old set or the new set, never a mix or a part.
///
/// The new set is written into a fresh directory and then swapped in:
/// - `swap` (the usual case): the fresh directory is a sibling of `path` (`.<name>.legate-<pid>-<id>`)
///   and is renamed onto `path`, or exchanged with it atomically (`renameat2(RENAME_EXCHANGE)`)
///   when it exists; the old set is then zeroed and removed.
/// - `linked`: when `path` is a mount point (a Kubernetes emptyDir, say) nothing can be renamed onto
///   it, so the sets live inside it as `..<id>` directories, `..data` is a symlink to the current
///   one replaced by rename, and `.env` and `files` are symlinks through `..data` (the layout
///   Kubernetes uses for ConfigMap volumes).
public struct OutputDirectory: Sendable {
    public enum Layout: Sendable, Equatable {
        /// `linked` when `path` is a mount point or already uses that layout, else `swap`.
        case automatic
        case swap
        case linked
    }

    public let path: String
    let layout: Layout

    public init(path: String, layout: Layout = .automatic) {
        var p = path
        while p.count > 1, p.hasSuffix("/") { p.removeLast() }
        self.path = p
        self.layout = layout
    }

    /// One file under `files/`.
    public struct File: Sendable {
        public var name: String
        public var bytes: SecretBytes
        public init(name: String, bytes: SecretBytes) {
            self.name = name
            self.bytes = bytes
        }
    }

    var parent: String { (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent }
    var baseName: String { (path as NSString).lastPathComponent }
    var tempPrefix: String { ".\(baseName).legate-" }

    /// Writes `.env` and `files/` and swaps them in. On failure nothing of the new set is left
    /// behind and the previous output, if any, is untouched.
    public func publish(env: SecretBytes, files: [File]) throws(LoaderError) {
        for f in files where !Self.isSafeFileName(f.name) {
            throw .configuration(
                "loader_file_name", "'\(f.name)' cannot be a file name under \(path)/files (no '/', NUL, '.' or '..'); rename the key in Vault.")
        }
        removeStaleTemporaries()
        let chosen = try resolvedLayout()
        switch chosen {
        case .linked: try publishLinked(env: env, files: files)
        default: try publishSwapped(env: env, files: files)
        }
    }

    /// File names must stay inside `files/`.
    static func isSafeFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.utf8.contains(0) && name.utf8.count <= 255
    }

    func resolvedLayout() throws(LoaderError) -> Layout {
        if layout != .automatic { return layout }
        var st = stat()
        guard lstat(path, &st) == 0 else { return .swap }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw LoaderError(.output, code: "loader_output_not_directory", "The output path \(path) exists and is not a directory; give --output a directory path.")
        }
        var up = stat()
        if stat(parent, &up) == 0, up.st_dev != st.st_dev { return .linked }
        if lstat(path + "/..data", &up) == 0 { return .linked }
        return .swap
    }

    // MARK: swap

    func publishSwapped(env: SecretBytes, files: [File]) throws(LoaderError) {
        try makeParents()
        let fresh = parent + "/" + tempPrefix + "\(getpid())-" + Identifiers.make(prefix: "")
        do {
            try writeSet(into: fresh, env: env, files: files)
        } catch {
            Self.removeTree(fresh)
            throw error
        }
        var st = stat()
        if lstat(path, &st) != 0 {
            guard rename(fresh, path) == 0 else {
                let e = errno
                Self.removeTree(fresh)
                throw outputError("Cannot move the new output into place at \(path): \(String(cString: strerror(e))).")
            }
        } else if c_renameat2(AT_FDCWD, fresh, AT_FDCWD, path, renameExchange) == 0 {
            // `fresh` now holds the previous set.
            Self.removeTree(fresh)
        } else if errno == EXDEV || errno == EBUSY {
            Self.removeTree(fresh)
            try publishLinked(env: env, files: files)
            return
        } else {
            // No RENAME_EXCHANGE on this filesystem: move the old set aside, then the new one in.
            let old = parent + "/" + tempPrefix + "\(getpid())-old-" + Identifiers.make(prefix: "")
            guard rename(path, old) == 0 else {
                let e = errno
                Self.removeTree(fresh)
                throw outputError("Cannot replace \(path): \(String(cString: strerror(e))). Check that its parent is writable.")
            }
            guard rename(fresh, path) == 0 else {
                let e = errno
                _ = rename(old, path)
                Self.removeTree(fresh)
                throw outputError("Cannot move the new output into place at \(path): \(String(cString: strerror(e))).")
            }
            Self.removeTree(old)
        }
        Self.syncDirectory(parent)
    }

    func makeParents() throws(LoaderError) {
        var st = stat()
        if stat(parent, &st) == 0 { return }
        do {
            // Parents hold no secrets; only the output directory itself is 0700.
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw outputError("Cannot create \(parent) for the output: \(error.localizedDescription). Check that the volume is mounted and writable.")
        }
    }

    /// Leftovers of a loader killed mid-write (their pid is gone) are removed; those of a live
    /// loader are not touched.
    func removeStaleTemporaries() {
        for (dir, prefix) in [(parent, tempPrefix), (path, "..legate-tmp-")] {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for name in names where name.hasPrefix(prefix) {
                let rest = name.dropFirst(prefix.count)
                guard let pid = Int32(rest.prefix { $0.isNumber }), pid != getpid() else { continue }
                if kill(pid, 0) != 0, errno == ESRCH { Self.removeTree(dir + "/" + name) }
            }
        }
    }

    // MARK: linked

    func publishLinked(env: SecretBytes, files: [File]) throws(LoaderError) {
        var st = stat()
        if lstat(path, &st) != 0 {
            guard mkdir(path, 0o700) == 0 else {
                throw outputError("Cannot create the output directory \(path): \(String(cString: strerror(errno))).")
            }
        }
        let id = Identifiers.make(prefix: "")
        let setName = "..legate-tmp-\(getpid())-\(id)"
        let setPath = path + "/" + setName
        do {
            try writeSet(into: setPath, env: env, files: files)
        } catch {
            Self.removeTree(setPath)
            throw error
        }
        let finalName = "..\(id)"
        guard rename(setPath, path + "/" + finalName) == 0 else {
            let e = errno
            Self.removeTree(setPath)
            throw outputError("Cannot rename the new set inside \(path): \(String(cString: strerror(e))).")
        }
        let previous = try? FileManager.default.destinationOfSymbolicLink(atPath: path + "/..data")
        do {
            try replaceLink(at: path + "/..data", pointingTo: finalName)
            try replaceLink(at: path + "/.env", pointingTo: "..data/.env")
            try replaceLink(at: path + "/files", pointingTo: "..data/files")
        } catch {
            Self.removeTree(path + "/" + finalName)
            throw error
        }
        if let previous, previous != finalName, previous.hasPrefix("..") { Self.removeTree(path + "/" + previous) }
        Self.syncDirectory(path)
    }

    /// Points `link` at `target` with a rename, so it is never missing; a plain file or directory
    /// from an earlier layout is moved out of the way first.
    func replaceLink(at link: String, pointingTo target: String) throws(LoaderError) {
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target { return }
        let tmp = path + "/..legate-tmp-\(getpid())-link-" + Identifiers.make(prefix: "")
        guard symlink(target, tmp) == 0 else {
            throw outputError("Cannot create a link in \(path): \(String(cString: strerror(errno))).")
        }
        var st = stat()
        if lstat(link, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            let aside = path + "/..legate-tmp-\(getpid())-old-" + Identifiers.make(prefix: "")
            _ = rename(link, aside)
            Self.removeTree(aside)
        }
        guard rename(tmp, link) == 0 else {
            let e = errno
            unlink(tmp)
            throw outputError("Cannot update \(link): \(String(cString: strerror(e))).")
        }
    }

    // MARK: writing

    /// A complete set in a new directory `dir`: 0700, `.env` 0600, `files/` 0700 with 0600 files.
    func writeSet(into dir: String, env: SecretBytes, files: [File]) throws(LoaderError) {
        try makeDirectory(dir)
        try writeFile(dir + "/.env", env)
        try makeDirectory(dir + "/files")
        for f in files { try writeFile(dir + "/files/" + f.name, f.bytes) }
        Self.syncDirectory(dir + "/files")
        Self.syncDirectory(dir)
    }

    func makeDirectory(_ dir: String) throws(LoaderError) {
        guard mkdir(dir, 0o700) == 0 else {
            throw outputError("Cannot create \(dir): \(String(cString: strerror(errno))). Check that \(parent) is writable and has space.")
        }
        // mkdir applies the umask; 0700 must hold whatever it is.
        chmod(dir, 0o700)
    }

    /// Creates `file` exclusively with mode 0600 before any byte is written, then syncs it.
    func writeFile(_ file: String, _ bytes: SecretBytes) throws(LoaderError) {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw outputError("Cannot create \(file): \(String(cString: strerror(errno))).")
        }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let failure: Int32? = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                guard let base = raw.baseAddress else { return EIO }
                let n = write(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return fsync(fd) == 0 ? nil : errno
        }
        if let failure {
            throw outputError("Cannot write \(file): \(String(cString: strerror(failure))). Check free space on the volume.")
        }
    }

    func outputError(_ message: String) -> LoaderError { LoaderError(.output, code: "loader_output", message) }

    static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Removes a directory tree, zeroing regular files first (they hold secrets).
    static func removeTree(_ dir: String) {
        var st = stat()
        guard lstat(dir, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] { removeTree(dir + "/" + name) }
            rmdir(dir)
        } else if (st.st_mode & S_IFMT) == S_IFREG {
            FileIO.shred(dir)
        } else {
            unlink(dir)
        }
    }
}

/// `RENAME_EXCHANGE` from <linux/fs.h>: swap two paths atomically (directories included).
private let renameExchange: UInt32 = 1 << 1

// glibc's renameat2 (2.28+), which the Swift Glibc module does not import; declared by its C ABI.
@_silgen_name("renameat2")
private func c_renameat2(_ olddirfd: Int32, _ oldpath: UnsafePointer<CChar>, _ newdirfd: Int32, _ newpath: UnsafePointer<CChar>, _ flags: UInt32) -> Int32
