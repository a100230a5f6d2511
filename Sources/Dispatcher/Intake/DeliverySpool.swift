import CDispatch  // where Swift finds `struct stat` (fstat, st_size) once MemberImportVisibility is on
import ClientSupport
import Foundation
import Logging
import Parsing
import QueueCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A durable local file for deliveries Redis cannot take right now (down, restarting, refusing writes).
///
/// Records are appended and `fsync`ed before the delivery is answered 200, so an acknowledged delivery survives
/// a crash; they are replayed into Redis in order and the file is then truncated. Past `maxBytes` the spool
/// refuses deliveries (503) rather than fill the disk. All file I/O runs on the spool's own ``BlockingQueue``.
///
/// Nothing in the file is thrown away: a record that cannot be read back (a damaged disk, a file edited by hand)
/// is moved to `deliveries.quarantine` beside the spool, with a log line, so the records behind it still reach
/// Redis. The bytes after the last whole record at start (an append that a crash cut short, never acknowledged,
/// or a damaged length) go there too. The record format is ``SpoolRecord``'s.
final class DeliverySpool: @unchecked Sendable {
    // @unchecked Sendable: `descriptor` is only used inside `io.run`, which runs serially.
    private let io = BlockingQueue(label: "wooqueue.spool")
    private let descriptor: Int32
    let path: String
    /// Where unreadable records are moved.
    let quarantinePath: String
    private let maxBytes: Int
    private let logger: Logger
    private let reads = Atomic<Int>(0)

    /// What ``readAll()`` found: the records to replay, and the frames to set aside.
    struct Contents: Sendable {
        var records: [DeliveryCommitter.Work] = []
        var unreadable: [Unreadable] = []
    }

    /// A frame that could not be read back, and why.
    struct Unreadable: Sendable {
        var frame: [UInt8]
        var reason: String
    }

    /// Opens (creating if needed) `<directory>/deliveries.spool`, locked against other processes. Bytes after the
    /// last whole record are moved to the quarantine, so later appends follow whole records.
    init(directory: String, maxBytes: Int, logger: Logger) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.path = (directory as NSString).appendingPathComponent("deliveries.spool")
        self.quarantinePath = (directory as NSString).appendingPathComponent("deliveries.quarantine")
        self.maxBytes = maxBytes
        self.logger = logger
        descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SpoolError("cannot open the delivery spool \(path): \(String(cString: strerror(errno))); check webhooks.spoolDirectory")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw SpoolError("another wooqueue process uses the delivery spool \(path); give each serve process its own webhooks.spoolDirectory")
        }
        let bytes = try Self.readFile(descriptor, path: path)
        let complete = SpoolRecord.frames(in: bytes).end
        if complete < bytes.count {
            try Self.appendDurably(Array(bytes[complete...]), to: quarantinePath)
            logger.warning("Moved the unfinished end of the delivery spool to its quarantine", metadata: [
                "spool.path": "\(path)", "spool.quarantine": "\(quarantinePath)", "spool.bytes": "\(bytes.count - complete)"])
            guard ftruncate(descriptor, off_t(complete)) == 0 else {
                throw SpoolError("cannot cut the unfinished last record of the delivery spool \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    deinit { close(descriptor) }

    /// Bytes waiting to be replayed.
    func size() async throws -> Int {
        try await io.run { Int(lseek(self.descriptor, 0, SEEK_END)) }
    }

    /// Bytes in the quarantine: records that could not be read back, waiting for a person.
    func quarantinedBytes() async -> Int {
        (try? await io.run { () -> Int in
            var status = stat()
            return stat(self.quarantinePath, &status) == 0 ? Int(status.st_size) : 0
        }) ?? 0
    }

    /// Appends the records and waits for them to reach the disk.
    func append(_ records: [DeliveryCommitter.Work]) async throws {
        var encoded: [UInt8] = []
        for record in records { Self.record(of: record).encode(into: &encoded) }
        let bytes = encoded
        try await io.run {
            let current = Int(lseek(self.descriptor, 0, SEEK_END))
            guard current + bytes.count <= self.maxBytes else {
                throw SpoolError("the delivery spool is full (\(current) bytes, limit webhooks.spoolMaxBytes = \(self.maxBytes))")
            }
            do {
                try Self.writeAll(bytes, to: self.descriptor)
            } catch {
                _ = ftruncate(self.descriptor, off_t(current))  // no half record left behind
                throw SpoolError("cannot write to the delivery spool \(self.path): \(error)")
            }
            guard fsync(self.descriptor) == 0 else {
                throw SpoolError("cannot flush the delivery spool \(self.path) to disk: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// How often the whole spool was read: replays back off rather than read it at every tick.
    var readsSoFar: Int { reads.load(ordering: .relaxed) }

    /// Every record, oldest first, and the frames that cannot be read back.
    func readAll() async throws -> Contents {
        reads.add(1, ordering: .relaxed)
        return try await io.run {
            let bytes = try Self.readFile(self.descriptor, path: self.path)
            var contents = Contents()
            for body in SpoolRecord.frames(in: bytes).bodies {
                do {
                    contents.records.append(try Self.work(of: SpoolRecord(decoding: bytes, body: body)))
                } catch {
                    contents.unreadable.append(Unreadable(frame: Array(bytes[(body.lowerBound - 4)..<body.upperBound]), reason: "\(error)"))
                }
            }
            return contents
        }
    }

    /// Moves unreadable frames to the quarantine, durably: the spool is emptied over them afterwards.
    func quarantine(_ frames: [Unreadable]) async throws {
        guard !frames.isEmpty else { return }
        try await io.run { try Self.appendDurably(frames.flatMap(\.frame), to: self.quarantinePath) }
        for frame in frames {
            logger.error("Moved an unreadable delivery spool record to the quarantine; inspect it, then remove the file", metadata: [
                "spool.quarantine": "\(quarantinePath)", "spool.bytes": "\(frame.frame.count)", "reason": "\(frame.reason)"])
        }
    }

    /// Empties the spool after its records are in Redis.
    func truncate() async throws {
        try await io.run {
            guard ftruncate(self.descriptor, 0) == 0, fsync(self.descriptor) == 0 else {
                throw SpoolError("cannot empty the delivery spool \(self.path): \(String(cString: strerror(errno)))")
            }
        }
    }

    // MARK: - Files

    private static func readFile(_ descriptor: Int32, path: String) throws -> [UInt8] {
        let size = Int(lseek(descriptor, 0, SEEK_END))
        var bytes = [UInt8](repeating: 0, count: max(0, size))
        var offset = 0
        while offset < bytes.count {
            let read = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset, off_t(offset))
            }
            if read < 0, errno == EINTR { continue }
            guard read > 0 else { throw SpoolError("cannot read the delivery spool \(path): \(String(cString: strerror(errno)))") }
            offset += read
        }
        return bytes
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw SpoolError(String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    private static func appendDurably(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SpoolError("cannot open the delivery spool quarantine \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        do {
            try writeAll(bytes, to: descriptor)
        } catch {
            throw SpoolError("cannot write to the delivery spool quarantine \(path): \(error)")
        }
        guard fsync(descriptor) == 0 else {
            throw SpoolError("cannot flush the delivery spool quarantine \(path) to disk: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - Records

    private static func record(of work: DeliveryCommitter.Work) -> SpoolRecord {
        SpoolRecord(claimKey: work.claim.map { Array($0.key.utf8) }, claimToken: work.claim.map { Array($0.token.utf8) },
                    jobs: work.jobs.map { $0.encoded() }, deadLetter: work.deadLetter?.encoded())
    }

    private static func work(of record: SpoolRecord) throws -> DeliveryCommitter.Work {
        func text(_ bytes: [UInt8]) throws -> String {
            guard let text = String(validating: bytes, as: UTF8.self) else { throw SpoolError("a claim is not UTF-8 text") }
            return text
        }
        var claim: QueueStore.DeliveryClaim?
        if let key = record.claimKey, let token = record.claimToken { claim = .init(key: try text(key), token: try text(token)) }
        return .init(claim: claim, jobs: try record.jobs.map { try JobEnvelope(decoding: $0) },
                     deadLetter: try record.deadLetter.map { try JobEnvelope(decoding: $0) })
    }
}

/// The spool could not take or give back deliveries.
struct SpoolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
