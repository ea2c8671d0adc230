/// Plaintext secret material: bytes that are zeroed when the last reference goes away and that
/// never print.
///
/// Design: a `final class` rather than a `~Copyable` struct. A class has exactly one heap buffer no
/// matter how often the reference is passed around, stored in collections or captured by tasks,
/// and `deinit` runs exactly once when the last reference drops — which is where the zeroing
/// happens. A noncopyable struct would give the same guarantee but cannot go into arrays,
/// dictionaries, `Result` or most generic code yet, which would push callers into copying the
/// bytes out (and leaving unzeroed copies behind) just to get work done.
///
/// Sendable: the buffer pointer and count are `let`s, the bytes are written only inside `init`
/// (before the object is published) and in `deinit` (after the last reference is gone), and the
/// only accessor hands out a read-only view. Concurrent readers therefore never race with a
/// writer, which is what `@unchecked Sendable` promises here.
///
/// What this does not protect against: copies a caller makes itself (`Array`, `String`, `Data`
/// built from ``withUnsafeBytes(_:)``), copies inside libraries that see the bytes (BoringSSL, the
/// HTTP stack), swap and core dumps (run with swap off and core dumps disabled, e.g. `LimitCORE=0`).
public final class SecretBytes: @unchecked Sendable, Equatable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// Memory this object allocated and alone owns; at least one byte so that the empty secret
    /// still has a valid, distinct allocation.
    private let storage: UnsafeMutableRawBufferPointer

    /// Number of secret bytes. Lengths are not treated as secret (ciphertext reveals them anyway).
    public let count: Int

    /// Whether the secret is empty.
    public var isEmpty: Bool { count == 0 }

    /// Copies `bytes` into memory owned by this object.
    ///
    /// The source collection is not zeroed; prefer ``init(count:initializingWith:)`` when the
    /// bytes can be written directly, so no other copy exists.
    public init(_ bytes: some Collection<UInt8>) {
        let count = bytes.count
        self.count = count
        self.storage = .allocate(byteCount: max(count, 1), alignment: 1)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]).copyBytes(from: bytes)
    }

    /// Copies the UTF-8 encoding of `string`. The string itself stays in memory until Swift frees
    /// it; this type cannot reach into it.
    public convenience init(utf8 string: String) {
        self.init(string.utf8)
    }

    /// Allocates `count` zeroed bytes and lets `body` fill them in place, so the plaintext never
    /// exists anywhere else. If `body` throws, the buffer is zeroed and freed before the error
    /// propagates. A negative `count` is treated as zero.
    public init<E: Error>(count: Int, initializingWith body: (UnsafeMutableRawBufferPointer) throws(E) -> Void)
        throws(E)
    {
        let count = max(count, 0)
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 1)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try body(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
        } catch {
            SecureZero.zero(storage)
            storage.deallocate()
            throw error
        }
        self.count = count
        self.storage = storage
    }

    deinit {
        SecureZero.zero(storage)
        storage.deallocate()
    }

    /// Calls `body` with a read-only view of the secret bytes.
    ///
    /// The view is valid only inside `body`; do not let the pointer escape, and zero any copy made
    /// from it when done.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// The secret as a Swift `String`, or nil when the bytes are not valid UTF-8.
    ///
    /// Named `unsafe…` (like `Redacted.unsafeValue`) so every call stands out in review: the
    /// returned `String` is an ordinary, unzeroed copy that lives until Swift frees it. Use it only
    /// at the edge that truly needs text (an environment variable, a process argument).
    public func unsafeUTF8String() -> String? {
        withUnsafeBytes { String(validating: $0, as: UTF8.self) }
    }

    /// Compares contents in time that depends only on the lengths, so a comparison against a
    /// secret does not reveal how long a matching prefix is.
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in
                var difference: UInt8 = 0
                for i in 0..<a.count { difference |= a[i] ^ b[i] }
                return difference == 0
            }
        }
    }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `<redacted>`.
    public var debugDescription: String { "<redacted>" }
    /// A mirror with no children, so `dump()` and Mirror-based printers never walk into the storage.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}
