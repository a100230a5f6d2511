import ClientSupport
import Foundation
import QueueCore
#if canImport(Glibc)
import Glibc
#endif

/// A durable local file for deliveries Redis cannot take right now (down, restarting, refusing writes).
///
/// Records are appended and `fsync`ed before the delivery is answered 200, so an acknowledged delivery survives
/// a crash; they are replayed into Redis in order and the file is then truncated. A record cut short by a crash
/// mid-write was never acknowledged and is ignored. Past `maxBytes` the spool refuses deliveries (503) rather
/// than fill the disk. All file I/O runs on the spool's own ``BlockingQueue``.
final class DeliverySpool: @unchecked Sendable {
    // @unchecked Sendable: `descriptor` is only used inside `io.run`, which runs serially.
    private let io = BlockingQueue(label: "wooqueue.spool")
    private let descriptor: Int32
    let path: String
    private let maxBytes: Int

    /// Opens (creating if needed) `<directory>/deliveries.spool`, locked against other processes. A record cut
    /// short by a crash during an append (never acknowledged) is cut off, so later appends follow whole records.
    init(directory: String, maxBytes: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.path = (directory as NSString).appendingPathComponent("deliveries.spool")
        self.maxBytes = maxBytes
        descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SpoolError("cannot open the delivery spool \(path): \(String(cString: strerror(errno))); check webhooks.spoolDirectory")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw SpoolError("another wooqueue process uses the delivery spool \(path); give each serve process its own webhooks.spoolDirectory")
        }
        let bytes = try Self.readFile(descriptor, path: path)
        let complete = Self.completeLength(bytes)
        if complete < bytes.count, ftruncate(descriptor, off_t(complete)) != 0 {
            throw SpoolError("cannot cut the unfinished last record of the delivery spool \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// Bytes waiting to be replayed.
    func size() async throws -> Int {
        try await io.run { Int(lseek(self.descriptor, 0, SEEK_END)) }
    }

    /// Appends the records and waits for them to reach the disk.
    func append(_ records: [DeliveryCommitter.Work]) async throws {
        var encoded: [UInt8] = []
        for record in records { Self.encode(record, into: &encoded) }
        let bytes = encoded
        try await io.run {
            let current = Int(lseek(self.descriptor, 0, SEEK_END))
            guard current + bytes.count <= self.maxBytes else {
                throw SpoolError("the delivery spool is full (\(current) bytes, limit webhooks.spoolMaxBytes = \(self.maxBytes))")
            }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(self.descriptor, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    let reason = String(cString: strerror(errno))
                    _ = ftruncate(self.descriptor, off_t(current))  // no half record left behind
                    throw SpoolError("cannot write to the delivery spool \(self.path): \(reason)")
                }
                offset += written
            }
            guard fsync(self.descriptor) == 0 else {
                throw SpoolError("cannot flush the delivery spool \(self.path) to disk: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Every record, oldest first. Throws if one cannot be read back, so the spool is never emptied over it.
    func readAll() async throws -> [DeliveryCommitter.Work] {
        try await io.run { try Self.decode(Self.readFile(self.descriptor, path: self.path), path: self.path) }
    }

    private static func readFile(_ descriptor: Int32, path: String) throws -> [UInt8] {
        let size = Int(lseek(descriptor, 0, SEEK_END))
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + offset, size - offset, off_t(offset)) }
            if read < 0, errno == EINTR { continue }
            guard read > 0 else { throw SpoolError("cannot read the delivery spool \(path): \(String(cString: strerror(errno)))") }
            offset += read
        }
        return bytes
    }

    /// Empties the spool after its records are in Redis.
    func truncate() async throws {
        try await io.run {
            guard ftruncate(self.descriptor, 0) == 0, fsync(self.descriptor) == 0 else {
                throw SpoolError("cannot empty the delivery spool \(self.path): \(String(cString: strerror(errno)))")
            }
        }
    }

    // MARK: - Format: u32 length, then bytes claim key, bytes claim token, u32 job count, bytes job…, bytes dead letter.
    // `bytes` is a u32 length (0xFFFFFFFF for none) and the bytes; integers are big-endian.

    private static func encode(_ work: DeliveryCommitter.Work, into output: inout [UInt8]) {
        var body: [UInt8] = []
        appendBytes(work.claim.map { Array($0.key.utf8) }, to: &body)
        appendBytes(work.claim.map { Array($0.token.utf8) }, to: &body)
        appendUInt32(UInt32(work.jobs.count), to: &body)
        for job in work.jobs { appendBytes(job.encoded(), to: &body) }
        appendBytes(work.deadLetter?.encoded(), to: &body)
        appendUInt32(UInt32(body.count), to: &output)
        output += body
    }

    /// The length of the file's whole records: anything after is the remains of an append cut short.
    private static func completeLength(_ bytes: [UInt8]) -> Int {
        var cursor = 0
        while cursor + 4 <= bytes.count {
            var probe = cursor
            guard let length = readUInt32(bytes, &probe), probe + Int(length) <= bytes.count else { break }
            cursor = probe + Int(length)
        }
        return cursor
    }

    private static func decode(_ bytes: [UInt8], path: String) throws -> [DeliveryCommitter.Work] {
        var records: [DeliveryCommitter.Work] = []
        var cursor = 0
        func unreadable() -> SpoolError {
            SpoolError("the delivery spool \(path) has an unreadable record at byte \(cursor); it is kept for inspection and nothing is replayed")
        }
        while cursor < bytes.count {
            guard let length = readUInt32(bytes, &cursor), cursor + Int(length) <= bytes.count else { throw unreadable() }
            let record = Array(bytes[cursor..<cursor + Int(length)])
            var inner = 0
            guard let key = readBytes(record, &inner), let token = readBytes(record, &inner), let count = readUInt32(record, &inner) else {
                throw unreadable()
            }
            var jobs: [JobEnvelope] = []
            for _ in 0..<count {
                guard let present = readBytes(record, &inner), let envelope = present, let job = try? JobEnvelope(decoding: envelope) else {
                    throw unreadable()
                }
                jobs.append(job)
            }
            guard let dead = readBytes(record, &inner) else { throw unreadable() }
            let claim = key.flatMap { key in
                token.map { QueueStore.DeliveryClaim(key: String(decoding: key, as: UTF8.self), token: String(decoding: $0, as: UTF8.self)) }
            }
            records.append(.init(claim: claim, jobs: jobs, deadLetter: try dead.map { try JobEnvelope(decoding: $0) }))
            cursor += Int(length)
        }
        return records
    }

    private static func appendUInt32(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    private static func appendBytes(_ value: [UInt8]?, to bytes: inout [UInt8]) {
        guard let value else { appendUInt32(.max, to: &bytes); return }
        appendUInt32(UInt32(value.count), to: &bytes)
        bytes += value
    }

    private static func readUInt32(_ bytes: [UInt8], _ cursor: inout Int) -> UInt32? {
        guard cursor + 4 <= bytes.count else { return nil }
        defer { cursor += 4 }
        return bytes[cursor..<cursor + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// `.some(nil)` for an absent value, `nil` when the record is cut short.
    private static func readBytes(_ bytes: [UInt8], _ cursor: inout Int) -> [UInt8]?? {
        guard let length = readUInt32(bytes, &cursor) else { return nil }
        if length == .max { return .some(nil) }
        guard cursor + Int(length) <= bytes.count else { return nil }
        defer { cursor += Int(length) }
        return .some(Array(bytes[cursor..<cursor + Int(length)]))
    }
}

/// The spool could not take or give back deliveries.
struct SpoolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
