import Foundation
import Yams

/// Helm-style values: one or more YAML files merged the way `helm -f a.yaml -f b.yaml` merges them
/// (maps merge key by key, anything else is replaced by the later file, an explicit `null` removes
/// a key), with each value's file and line kept so errors can point at them.
public struct HelmValues: Sendable {
    /// Where a value was written.
    public struct Location: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var description: String { line > 0 ? "\(file):\(line)" : file }
    }

    /// One node of the merged tree.
    public indirect enum Value: Sendable {
        /// Keys in the order they were first written.
        case mapping([(key: String, value: Value)], Location)
        /// A scalar's text; `quoted` when written in quotes ("true" is then a string, not a bool).
        case scalar(String, quoted: Bool, Location)
        case sequence(Location)
        case null(Location)

        public var location: Location {
            switch self {
            case .mapping(_, let l), .scalar(_, _, let l), .sequence(let l), .null(let l): l
            }
        }

        /// The value under `key` of a mapping.
        public subscript(key: String) -> Value? {
            guard case .mapping(let entries, _) = self else { return nil }
            return entries.first { $0.key == key }?.value
        }
    }

    /// The merged tree (an empty mapping when no file has content).
    public let root: Value
    /// The files, in the order given.
    public let files: [String]

    public init(root: Value, files: [String]) {
        self.root = root
        self.files = files
    }

    /// Reads and merges `files` in order (later files win).
    public static func load(files: [String]) throws(LoaderError) -> HelmValues {
        guard !files.isEmpty else {
            throw .configuration("loader_no_values", "No values file given: pass --values FILE (or -f FILE, repeatable like helm).")
        }
        var root = Value.mapping([], Location(file: files[0], line: 0))
        for file in files {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw .configuration(
                    "loader_values_unreadable", "Cannot read the values file \(file): it does not exist, is not readable by this user, or is not UTF-8.")
            }
            root = merge(root, try parse(text, file: file))
        }
        return HelmValues(root: root, files: files)
    }

    /// Parses one YAML document into a tree.
    public static func parse(_ text: String, file: String) throws(LoaderError) -> Value {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            // YamlError's description carries the line and column, never more than the offending line.
            throw .configuration("loader_values_yaml", "The values file \(file) is not valid YAML: \(error)")
        }
        guard let node else { return .mapping([], Location(file: file, line: 0)) }
        return try convert(node, file: file)
    }

    static func convert(_ node: Node, file: String) throws(LoaderError) -> Value {
        let location = Location(file: file, line: node.mark?.line ?? 0)
        switch node {
        case .scalar(let s):
            if s.style == .plain, node.null != nil { return .null(location) }
            return .scalar(s.string, quoted: s.style != .plain, location)
        case .sequence:
            return .sequence(location)
        case .alias:
            // Aliases are resolved by the composer; a bare one has nothing we can read.
            return .null(location)
        case .mapping(let m):
            var entries: [(key: String, value: Value)] = []
            for (k, v) in m {
                guard let key = k.string else {
                    throw .configuration("loader_values_key", "\(file):\(k.mark?.line ?? 0): a mapping key is not a string.")
                }
                if entries.contains(where: { $0.key == key }) {
                    throw .configuration("loader_values_duplicate", "\(file):\(k.mark?.line ?? 0): key '\(key)' appears twice in the same mapping.")
                }
                entries.append((key, try convert(v, file: file)))
            }
            return .mapping(entries, location)
        }
    }

    /// Helm's merge: mappings merge recursively; a later null deletes the key; anything else replaces.
    static func merge(_ base: Value, _ over: Value) -> Value {
        guard case .mapping(var entries, let location) = base, case .mapping(let overEntries, _) = over else { return over }
        for (key, value) in overEntries {
            let index = entries.firstIndex { $0.key == key }
            if case .null = value {
                if let index { entries.remove(at: index) }
            } else if let index {
                entries[index].value = merge(entries[index].value, value)
            } else {
                entries.append((key, value))
            }
        }
        return .mapping(entries, location)
    }

    /// The value at a dotted path such as `global.externalSecretsLoader`.
    public func value(at path: [String]) -> Value? {
        var node: Value? = root
        for key in path { node = node?[key] }
        return node
    }
}
