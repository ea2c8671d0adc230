import Foundation
import LegateCore

/// The built-in connector's key-encryption keys, on the delegate only:
/// `<state>/keys/<keyRef>/v<N>.key`, 32 random bytes each, mode 0600, directory 0700.
///
/// The first use creates version 1. An operator running a pool gives every delegate the same files.
/// Rotation adds version N+1 (newest wins for new wraps); old versions stay until every secret has
/// been re-wrapped, then may be removed.
public struct Keyring: Sendable {
    public let directory: String
    public let keyRef: String

    public init(stateDirectory: String, keyRef: String) throws {
        guard !keyRef.isEmpty, keyRef.count <= 64,
            keyRef.unicodeScalars.allSatisfy({ ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "_" })
        else {
            throw ProviderError.configuration(
                "invalid_key_ref", "Built-in key reference '\(keyRef)' must be 1–64 lowercase letters, digits, '-' or '_'.")
        }
        self.keyRef = keyRef
        self.directory = stateDirectory + "/keys/" + keyRef
    }

    /// Versions present, ascending.
    public func versions() -> [UInt32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> UInt32? in
            guard name.hasPrefix("v"), name.hasSuffix(".key") else { return nil }
            return UInt32(name.dropFirst().dropLast(4))
        }.sorted()
    }

    func path(_ version: UInt32) -> String { directory + "/v\(version).key" }

    /// The key of `version`, or a configuration error that says where it was expected.
    public func key(version: UInt32) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path(version)) else {
            throw ProviderError.configuration(
                "key_version_missing",
                "Built-in key '\(keyRef)' version \(version) is not on this delegate (\(path(version))). Copy the pool's key files to every delegate, and remove old versions only after `legate-manager secret rewrap`.")
        }
        guard data.count == 32 else {
            throw ProviderError.configuration("key_file_invalid", "\(path(version)) must hold exactly 32 bytes (has \(data.count)).")
        }
        return Array(data)
    }

    /// The newest version, creating version 1 when the keyring is empty.
    public func newest(createIfMissing: Bool = true) throws -> (version: UInt32, key: [UInt8]) {
        if let v = versions().last { return (v, try key(version: v)) }
        guard createIfMissing else {
            throw ProviderError.configuration("key_missing", "No built-in key '\(keyRef)' in \(directory).")
        }
        return (1, try add(version: 1))
    }

    /// Adds the next version with fresh random bytes; returns its number.
    @discardableResult
    public func rotate() throws -> UInt32 {
        let next = (versions().last ?? 0) + 1
        _ = try add(version: next)
        return next
    }

    /// Removes one version. Refuses to remove the newest (it would strand every new secret).
    public func remove(version: UInt32) throws {
        let all = versions()
        guard all.contains(version) else {
            throw ProviderError.configuration("key_version_missing", "Built-in key '\(keyRef)' has no version \(version) here.")
        }
        guard version != all.last else {
            throw ProviderError.configuration("key_version_newest", "Version \(version) is the newest key of '\(keyRef)'; rotate first.")
        }
        try FileManager.default.removeItem(atPath: path(version))
    }

    private func add(version: UInt32) throws -> [UInt8] {
        try FileIO.makeDirectory(directory, mode: 0o700)
        let bytes = Identifiers.randomBytes(32)
        // Two tasks may create the first key at once: exactly one file wins, the other reads it.
        guard try FileIO.createExclusive(Data(bytes), at: path(version), mode: 0o600) else { return try key(version: version) }
        return bytes
    }
}
