import Foundation

/// Constants of wire protocol v1. docs/protocol.md is the normative description.
public enum WireProtocol {
    /// The protocol version this build speaks. A peer that sends another version is refused with
    /// `unsupported_protocol_version`; additive changes (new optional fields) keep the version.
    public static let version = 1
    /// Largest JSON body either side accepts on an HTTP endpoint.
    public static let maxMessageBytes = 1 << 20
    /// Largest WebSocket frame (stream messages are small notices and heartbeats).
    public static let maxFrameBytes = 64 << 10
    /// Largest total of `data` in one log batch.
    public static let maxLogBatchBytes = 512 << 10
    /// Longest long-poll wait the manager honours.
    public static let maxPollWait: Duration = .seconds(30)

    public static let apiPrefix = "/api/v1"
}

/// The shared JSON coders: dates as milliseconds since the epoch, sorted keys (stable output for logs and tests).
public enum WireCoding {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        // Whole milliseconds, as documented (the built-in strategy writes fractions).
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
        }
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .millisecondsSince1970
        return d
    }

    public static func encode<T: Encodable>(_ value: T) throws -> Data { try encoder().encode(value) }

    /// Decodes `T`, turning Foundation's decoding errors into a ``WireError`` that names the field.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(WireError) -> T {
        if data.count > WireProtocol.maxMessageBytes {
            throw WireError.payloadTooLarge(what: what, size: data.count, limit: WireProtocol.maxMessageBytes)
        }
        do {
            return try decoder().decode(T.self, from: data)
        } catch let error as WireError {
            throw error
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw .malformed(what: what, detail: "missing field '\(path(ctx.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw .malformed(what: what, detail: "field '\(path(ctx.codingPath))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw .malformed(what: what, detail: "field '\(path(ctx.codingPath))' is null")
        } catch let DecodingError.dataCorrupted(ctx) {
            if ctx.codingPath.isEmpty {
                throw .malformed(what: what, detail: "body is not valid JSON")
            }
            throw .malformed(what: what, detail: "field '\(path(ctx.codingPath))': \(ctx.debugDescription)")
        } catch {
            throw .malformed(what: what, detail: "body is not valid JSON")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
