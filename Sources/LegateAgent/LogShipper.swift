import Foundation
import LegateCore
import LegateMasking
import LegateWire
import Logging

/// Collects a task's output into numbered log entries and ships them to the manager in batches,
/// retrying each batch until the manager confirms it. Sequence numbers make retries idempotent.
/// Every byte passes the task's masker first (per stream, safe across chunk boundaries).
actor LogShipper {
    /// Flush when this much output is buffered, or every ``flushInterval``.
    static let batchBytes = 64 << 10
    static let flushInterval: Duration = .milliseconds(200)
    /// Output beyond this per task is dropped (and the result says so).
    static let maxTaskOutput = 16 << 20

    private let taskId: String
    private let attempt: Int
    private let session: SessionProvider
    private let client: ManagerClient
    private let logger: Logger

    private var pending: [LogEntry] = []
    private var pendingBytes = 0
    private var nextSeq = 1
    private var totalBytes = 0
    private(set) var truncated = false
    /// Incomplete UTF-8 sequence carried to the next chunk of the same stream.
    private var carry: [LogStream: [UInt8]] = [:]
    private var finished = false
    private var gaveUp = false
    private var maskers: [LogStream: MaskingStream] = [:]
    private var masker = SecretMasker.empty

    init(taskId: String, attempt: Int, session: SessionProvider, client: ManagerClient, logger: Logger) {
        self.taskId = taskId
        self.attempt = attempt
        self.session = session
        self.client = client
        self.logger = logger
    }

    var entriesWritten: Int { nextSeq - 1 }

    /// Masks the task's secrets from here on (set before the process starts).
    func setMasker(_ m: SecretMasker) {
        masker = m
        maskers = m.isEmpty ? [:] : [.stdout: m.makeStream(), .stderr: m.makeStream()]
    }

    func append(_ stream: LogStream, _ raw: [UInt8]) async {
        guard !truncated else { return }
        var bytes = raw
        if var m = maskers[stream] {
            bytes = m.process(raw)
            maskers[stream] = m
        }
        await appendMasked(stream, bytes)
    }

    private func appendMasked(_ stream: LogStream, _ bytes: [UInt8]) async {
        guard !truncated else { return }
        var data = (carry[stream] ?? []) + bytes
        carry[stream] = nil
        let cut = Self.completeUTF8Prefix(data)
        if cut < data.count {
            carry[stream] = Array(data[cut...])
            data.removeSubrange(cut...)
        }
        if data.isEmpty { return }
        if totalBytes + data.count > Self.maxTaskOutput {
            data = Array(data.prefix(max(0, Self.maxTaskOutput - totalBytes)))
            data = Array(data.prefix(Self.completeUTF8Prefix(data)))
            truncated = true
        }
        totalBytes += data.count
        addEntry(stream, String(decoding: data, as: UTF8.self))
        if truncated {
            addEntry(.stderr, "\n[legate] output truncated at \(Self.maxTaskOutput) bytes\n")
        }
        if pendingBytes >= Self.batchBytes { await flush() }
    }

    private func addEntry(_ stream: LogStream, _ text: String) {
        pending.append(LogEntry(seq: nextSeq, stream: stream, data: text, at: Date()))
        nextSeq += 1
        pendingBytes += text.utf8.count
    }

    /// Sends everything buffered, retrying transient failures until confirmed.
    func flush() async {
        while !pending.isEmpty && !gaveUp {
            var batch: [LogEntry] = []
            var size = 0
            while let e = pending.first, batch.isEmpty || size + e.data.utf8.count <= Self.batchBytes {
                batch.append(e)
                size += e.data.utf8.count
                pending.removeFirst()
            }
            pendingBytes -= size
            await send(batch)
        }
    }

    private func send(_ entries: [LogEntry]) async {
        var attemptNo = 0
        let backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(5))
        while true {
            do {
                _ = try await client.sendLogs(
                    LogBatch(attempt: attempt, entries: entries), taskId: taskId, delegateId: await session.delegateId,
                    session: await session.token)
                return
            } catch {
                guard error.isTransient || error.needsRegistration else {
                    logger.error("log delivery rejected; dropping this task's remaining output", metadata: ["task.id": "\(taskId)", "error": "\(error.message)"])
                    gaveUp = true
                    return
                }
                attemptNo += 1
                if attemptNo % 10 == 1 {
                    logger.warning("log delivery failed, retrying", metadata: ["task.id": "\(taskId)", "error": "\(error.message)"])
                }
                do { try await Task.sleep(for: backoff.delay(attempt: attemptNo)) } catch { return }
            }
        }
    }

    /// Periodic flusher; returns once ``finish()`` has run.
    func runFlusher() async {
        while !finished {
            try? await Task.sleep(for: Self.flushInterval)
            if !finished { await flush() }
        }
    }

    func finish() async {
        for stream in [LogStream.stdout, .stderr] {
            if var m = maskers[stream] {
                let tail = m.finish()
                maskers[stream] = nil
                if !tail.isEmpty { await appendMasked(stream, tail) }
            }
        }
        for (stream, rest) in carry where !rest.isEmpty {
            addEntry(stream, String(decoding: rest, as: UTF8.self))
        }
        carry = [:]
        await flush()
        finished = true
    }

    /// Length of the longest prefix that does not end inside a UTF-8 sequence.
    static func completeUTF8Prefix(_ b: [UInt8]) -> Int {
        var i = b.count
        var back = 0
        while i > 0 && back < 4 {
            let c = b[i - 1]
            if c & 0xC0 == 0x80 {
                i -= 1
                back += 1
                continue
            }
            if c & 0x80 == 0 { return b.count }
            let need = c & 0xE0 == 0xC0 ? 2 : c & 0xF0 == 0xE0 ? 3 : c & 0xF8 == 0xF0 ? 4 : 1
            return back + 1 >= need ? b.count : i - 1
        }
        return b.count
    }
}
