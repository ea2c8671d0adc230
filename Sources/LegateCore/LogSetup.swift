import Foundation
import Logging

/// Process-wide logging: human-readable lines or JSON on stderr.
public enum LogSetup {
    /// Checks a log level and format without installing anything (`legate check`).
    public static func validate(level: String, format: String) throws -> Logger.Level {
        guard let lvl = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError("log level '\(level)' is not one of trace, debug, info, notice, warning, error, critical.")
        }
        guard format == "text" || format == "json" else {
            throw ConfigurationError("log format '\(format)' is not one of text, json.")
        }
        return lvl
    }

    public static func bootstrap(level: String, format: String, label: String) throws -> Logger {
        let lvl = try validate(level: level, format: format)
        LoggingSystem.bootstrap { label in
            var h = LineLogHandler(label: label, json: format == "json")
            h.logLevel = lvl
            return h
        }
        var logger = Logger(label: label)
        logger.logLevel = lvl
        return logger
    }
}

/// One line per event on stderr: `2026-11-24T06:00:00Z info legate: message key=value`.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let json: Bool

    public init(label: String, json: Bool) {
        self.label = label
        self.json = json
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let time = Date().ISO8601Format()
        var line: String
        if json {
            var obj: [String: String] = ["time": time, "level": "\(event.level)", "logger": label, "msg": "\(event.message)"]
            for (k, v) in all { obj[k] = "\(v)" }
            let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        } else {
            line = "\(time) \(event.level) \(label): \(event.message)"
            for (k, v) in all.sorted(by: { $0.key < $1.key }) {
                let s = "\(v)"
                line += s.contains(" ") ? " \(k)=\"\(s)\"" : " \(k)=\(s)"
            }
        }
        line = LogRedaction.apply(line) + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
