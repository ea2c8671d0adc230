/// Which secret a ciphertext belongs to: its scope, its name and its version.
///
/// The identity is bound into every envelope's AAD (and into the built-in provider's key wrap),
/// so a record copied to another name or scope, or replayed as another version, fails to open.
///
/// Equality and hashing compare the exact UTF-8 bytes, not Swift's canonical string equivalence:
/// two identities are equal exactly when their ``encoded()`` forms are, which is what decides
/// whether an envelope opens. (A name spelled with a precomposed "é" and one with "e" + combining
/// accent are different identities here, as they are in the AAD.)
public struct SecretIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The secret's scope, e.g. `account`, `account/org` or `account/org/project`.
    public let scope: String
    /// The secret's name within its scope.
    public let name: String
    /// The secret's version; each update of the value gets a new one.
    public let version: Int

    public init(scope: String, name: String, version: Int) {
        self.scope = scope
        self.name = name
        self.version = version
    }

    /// The canonical binary encoding used in AAD:
    ///
    /// `u64 len(scope) ‖ scope UTF-8 ‖ u64 len(name) ‖ name UTF-8 ‖ i64 version`, all big-endian.
    ///
    /// Length prefixes make it unambiguous (`("ab", "c")` and `("a", "bc")` encode differently)
    /// and 64-bit lengths mean no string is ever too long to encode, so encoding cannot fail.
    public func encoded() -> [UInt8] {
        [UInt8](encodedCount: encodedCount) { write(into: &$0) }
    }

    /// Number of bytes ``encoded()`` produces.
    var encodedCount: Int { 24 + scope.utf8.count + name.utf8.count }

    /// Writes ``encoded()`` in place, so the envelope AAD is built in one buffer.
    func write(into writer: inout ByteWriter) {
        writer.writeBigEndian(UInt64(scope.utf8.count))
        writer.write(utf8: scope)
        writer.writeBigEndian(UInt64(name.utf8.count))
        writer.write(utf8: name)
        writer.writeBigEndian(Int64(version))
    }

    public static func == (lhs: SecretIdentity, rhs: SecretIdentity) -> Bool {
        lhs.version == rhs.version && lhs.scope.utf8.elementsEqual(rhs.scope.utf8)
            && lhs.name.utf8.elementsEqual(rhs.name.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(encoded())
    }

    /// `scope "…" name "…" version N`, with the strings quoted and escaped so that odd characters
    /// cannot forge log lines. Scope, name and version are not secret.
    public var description: String {
        "scope \(String(reflecting: scope)) name \(String(reflecting: name)) version \(version)"
    }
}
