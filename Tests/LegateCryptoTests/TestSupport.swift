import Foundation
import LegateCore
import LegateCrypto
import Synchronization
import XCTest

/// Helpers on the shared seeded generator (LegateCore.SplitMix64).
extension SplitMix64 {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }
}

/// Parses hex written in a test; whitespace is ignored so long vectors can be split over lines.
/// Returns nil on an odd length or a non-hex character, which the caller turns into a failure.
func hexBytes(_ text: String) -> [UInt8]? {
    let digits = text.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) }
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    var high: UInt8?
    for d in digits {
        guard let v = UInt8(String(d), radix: 16) else { return nil }
        if let h = high {
            out.append(h << 4 | v)
            high = nil
        } else {
            high = v
        }
    }
    return out
}

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// Runs `body` and returns the envelope error it threw, or nil when it succeeded.
///
/// Takes an untyped closure because closures nested in XCTest's autoclosures do not always infer
/// a typed `throws`; the API's typed throws are pinned at compile time in `EnvelopeTests`. Any
/// other error type fails the test.
func caughtError<T>(
    _ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line
) -> EnvelopeError? {
    do {
        _ = try body()
        return nil
    } catch let error as EnvelopeError {
        return error
    } catch {
        XCTFail("expected an EnvelopeError, got \(error)", file: file, line: line)
        return .cryptoFailure(operation: "test: unexpected error type")
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
    func advance(by duration: Duration) { instant.withLock { $0 = $0.advanced(by: duration) } }
}
