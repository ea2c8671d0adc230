/// A value that must never be printed: tokens, keys, passwords.
///
/// `description`, `debugDescription` and string interpolation all print `<redacted>`,
/// so a secret that ends up in a log line or an error message by accident stays hidden.
/// Reach the value only through ``unsafeValue`` at the single place that needs it.
public struct Redacted<Value: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The wrapped value. Named so that every use stands out in review.
    public let unsafeValue: Value

    public init(_ value: Value) { self.unsafeValue = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    // Keeps `dump()` and Mirror-based printers from walking into the value.
    public var customMirror: Mirror { Mirror(self, children: []) }
}

extension Redacted: Equatable where Value: Equatable {}
extension Redacted: Hashable where Value: Hashable {}
