import Foundation

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

#if !canImport(Darwin) && !canImport(Glibc)
// musl has had `explicit_bzero` since 1.1.20, but whether its Swift module imports the declaration
// depends on feature macros; binding the symbol by name keeps the static-SDK build working either way.
@_silgen_name("explicit_bzero")
private func legate_explicit_bzero(_ pointer: UnsafeMutableRawPointer, _ count: Int)
#endif

/// Overwrites memory with zeros in a way the optimiser may not remove.
///
/// A plain `memset` or a Swift loop right before `deallocate()` is a dead store the compiler is
/// allowed to drop. `explicit_bzero` (glibc, musl) and `memset_s` (Darwin, C11 Annex K) are opaque
/// library calls documented to always write, so the bytes really are gone when memory is freed.
enum SecureZero {
    /// Zeroes every byte of `buffer`.
    static func zero(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        #if canImport(Darwin)
        _ = memset_s(base, buffer.count, 0, buffer.count)
        #elseif canImport(Glibc)
        explicit_bzero(base, buffer.count)
        #else
        legate_explicit_bzero(base, buffer.count)
        #endif
    }

    /// Zeroes a `Data` in place. Only call this on a value this code uniquely owns (for example the
    /// plaintext `AES.GCM.open` just returned): a shared buffer would be copied first and the
    /// original left intact.
    static func zero(_ data: inout Data) {
        data.withUnsafeMutableBytes { zero($0) }
    }

    /// Zeroes an array in place; same uniqueness caveat as for `Data`.
    static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { zero($0) }
    }
}
