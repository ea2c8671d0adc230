import Foundation

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
/// Sendable: the storage is set in `init` (before the object is published) and changed only in
/// `deinit` (after the last reference is gone), the bytes are written only at those two points,
/// and the only accessor hands out a read-only view. Concurrent readers therefore never race with
/// a writer, which is what `@unchecked Sendable` promises here.
///
/// What this does not protect against: copies a caller makes itself (`Array`, `String`, `Data`
/// built from ``withUnsafeBytes(_:)``), copies inside libraries that see the bytes (BoringSSL, the
/// HTTP stack), swap and core dumps (run with swap off and core dumps disabled, e.g. `LimitCORE=0`).
public final class SecretBytes: @unchecked Sendable, Equatable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    /// Where the bytes live. Either way it is one heap buffer that only this object references
    /// and that `deinit` zeroes in place before it is freed.
    private enum Storage {
        /// Memory this object allocated and alone owns; at least one byte so that the empty secret
        /// still has a valid, distinct allocation.
        case owned(UnsafeMutableRawBufferPointer)
        /// A `Data` handed over by its only owner (the plaintext `AES.GCM.open` returns), kept
        /// instead of copied: copying a large value costs a second buffer, a copy and a zeroing.
        case adopted(Data)
        /// Set in `deinit` once an adopted `Data` has been moved out to be zeroed.
        case released
    }

    private var storage: Storage

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
        let buffer = Self.allocate(count)
        // Contiguous sources (Array, Data, String.UTF8View…) are one memcpy; anything else is
        // zero-filled first so a collection that yields fewer bytes than it counted leaves zeros.
        let copied = bytes.withContiguousStorageIfAvailable { source -> Bool in
            guard source.count == count else { return false }
            UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]).copyMemory(from: UnsafeRawBufferPointer(source))
            return true
        }
        if copied != true {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]).copyBytes(from: bytes.prefix(count))
        }
        self.count = count
        self.storage = .owned(buffer)
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
        let storage = Self.allocate(count)
        // Zeroed first: `body` may leave bytes unwritten, and those must not be old heap contents.
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try body(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
        } catch {
            SecureZero.zero(storage)
            storage.deallocate()
            throw error
        }
        self.count = count
        self.storage = .owned(storage)
    }

    /// Takes over `data`, which the caller gives up (`consume`) and which nothing else references:
    /// the plaintext `AES.GCM.open` just returned.
    ///
    /// A value too short to be sure it is in a heap buffer (`Data` keeps up to a few bytes inline,
    /// inside the struct) is copied into owned memory and `data` is zeroed, as before adoption
    /// existed. Longer ones are kept as they are, so opening a large value needs no second buffer.
    init(adopting data: consuming Data) {
        let count = data.count
        self.count = count
        if count > MemoryLayout<Data>.size {
            // A no-op for a uniquely referenced buffer; if it were shared, this makes ours private,
            // so the zeroing in `deinit` always hits the buffer this object reads.
            data.withUnsafeMutableBytes { _ in }
            self.storage = .adopted(data)
        } else {
            let buffer = Self.allocate(count)
            data.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]).copyMemory(from: source)
            }
            SecureZero.zero(&data)
            self.storage = .owned(buffer)
        }
    }

    /// Uninitialised memory for `count` bytes (at least one, zeroed when `count` is 0).
    private static func allocate(_ count: Int) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 1)
        if count == 0 { buffer.initializeMemory(as: UInt8.self, repeating: 0) }
        return buffer
    }

    deinit {
        switch storage {
        case .owned(let buffer):
            SecureZero.zero(buffer)
            buffer.deallocate()
        case .adopted(var data):
            // Drop the stored reference first so `data` is the only one: `withUnsafeMutableBytes`
            // then writes the zeros into the buffer itself instead of into a fresh copy.
            storage = .released
            SecureZero.zero(&data)
        case .released:
            break
        }
    }

    /// Calls `body` with a read-only view of the secret bytes.
    ///
    /// The view is valid only inside `body`; do not let the pointer escape, and zero any copy made
    /// from it when done.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        switch storage {
        case .owned(let buffer):
            return try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        case .adopted(let data):
            // `Data.withUnsafeBytes` rethrows untyped errors; carry the typed one through a Result.
            let result = data.withUnsafeBytes { bytes in Result { () throws(E) -> R in try body(bytes) } }
            return try result.get()
        case .released:
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
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
