import Foundation
import LegateCore
import LegateCrypto
import LegateMasking
import LegateWire
import Synchronization

/// Resolves a shell task's secret expressions just in time, on the agent:
/// - in `script`, an expression becomes `${LEGATE_SECRET_<n>}` and the value goes in that
///   environment variable, so it never appears in the command line;
/// - in `env` values, the value is substituted directly;
/// - in `command` arguments, the value is substituted directly (visible to `ps` on this host:
///   prefer env or script);
/// - a file secret becomes the path of a 0600 file in a private temp directory, removed after the run.
/// Every value, and its encodings, goes into the task's masker.
struct SecretInjector {
    struct Prepared {
        var spec: ShellSpec
        var masker: SecretMasker
        var values: [[UInt8]]
        var tempDirectory: String?
    }

    static func prepare(_ package: TaskPackage, spec: ShellSpec, worker: SecretWorker) async throws -> Prepared {
        guard let materials = package.secrets, !materials.isEmpty else {
            return Prepared(spec: spec, masker: .empty, values: [], tempDirectory: nil)
        }
        var opened: [String: (SecretKind, SecretBytes)] = [:]
        for m in materials { opened[m.reference] = (m.kind, try await worker.open(m)) }

        var tempDirectory: String?
        var filePaths: [String: String] = [:]
        func path(for reference: String, _ value: SecretBytes) throws -> String {
            if let p = filePaths[reference] { return p }
            if tempDirectory == nil {
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("legate-\(package.taskId)-\(Identifiers.make(prefix: ""))").path
                try FileIO.makeDirectory(dir, mode: 0o700)
                tempDirectory = dir
            }
            // Numbered, so references that differ only in punctuation never share a file.
            let p = (tempDirectory ?? "") + "/secret-\(filePaths.count + 1)"
            try FileIO.write(value.withUnsafeBytes { Data($0) }, to: p, mode: 0o600)
            filePaths[reference] = p
            return p
        }
        func value(_ ref: SecretReference) throws -> (SecretKind, SecretBytes) {
            guard let v = opened[ref.description] else {
                throw SecretWorker.Failure(
                    code: "secret_missing", message: "The task refers to '\(ref)' but the manager sent no such secret.", origin: .external)
            }
            return v
        }
        func text(_ b: SecretBytes) -> String { b.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

        do {
            return try substitute()
        } catch {
            if let dir = tempDirectory { removeSecretFiles(dir) }
            throw error
        }

        func substitute() throws -> Prepared {
            var out = spec
            var env = spec.env ?? [:]
            var variables: [String: String] = [:]
            // One variable per reference, numbered, so `db-pass` and `db_pass` never share one.
            var names: [String: String] = [:]
            if let script = spec.script {
                out.script = try SecretExpression.substitute(in: script, field: "script") { ref in
                    let (kind, v) = try value(ref)
                    if kind == .file { return try path(for: ref.description, v) }
                    let name = names[ref.description] ?? "LEGATE_SECRET_\(names.count + 1)"
                    names[ref.description] = name
                    variables[name] = text(v)
                    return "${\(name)}"
                }
            }
            for (k, v) in env {
                env[k] = try SecretExpression.substitute(in: v, field: "env.\(k)") { ref in
                    let (kind, s) = try value(ref)
                    return kind == .file ? try path(for: ref.description, s) : text(s)
                }
            }
            if let command = spec.command {
                out.command = try command.enumerated().map { i, arg in
                    try SecretExpression.substitute(in: arg, field: "command[\(i)]") { ref in
                        let (kind, s) = try value(ref)
                        return kind == .file ? try path(for: ref.description, s) : text(s)
                    }
                }
            }
            for (k, v) in variables { env[k] = v }
            out.env = env.isEmpty ? nil : env
            let values = opened.values.map { $0.1.withUnsafeBytes { Array($0) } }
            return Prepared(spec: out, masker: SecretMasker(secrets: values), values: values, tempDirectory: tempDirectory)
        }
    }

    static func removeSecretFiles(_ dir: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] { FileIO.shred(dir + "/" + name) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Removes the task's secret files (overwritten first, then unlinked).
    static func cleanUp(_ p: Prepared) {
        if let dir = p.tempDirectory { removeSecretFiles(dir) }
    }
}

/// Secrets currently in use by tasks, masked out of the agent's own log lines.
final class ActiveSecrets: Sendable {
    private let state = Mutex<(values: [String: [[UInt8]]], masker: SecretMasker)>(([:], .empty))

    func add(task: String, values: [[UInt8]]) {
        guard !values.isEmpty else { return }
        state.withLock {
            // Connector credentials are re-announced with every task; rebuild only on change.
            if $0.values[task] == values { return }
            $0.values[task] = values
            $0.masker = SecretMasker(secrets: $0.values.values.flatMap { $0 })
        }
    }

    func remove(task: String) {
        state.withLock {
            guard $0.values.removeValue(forKey: task) != nil else { return }
            $0.masker = $0.values.isEmpty ? .empty : SecretMasker(secrets: $0.values.values.flatMap { $0 })
        }
    }

    func mask(_ line: String) -> String {
        let m = state.withLock { $0.masker }
        return m.isEmpty ? line : m.mask(line)
    }
}
