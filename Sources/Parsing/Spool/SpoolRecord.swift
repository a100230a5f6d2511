/// One record of the delivery spool: a delivery's de-duplication claim, its jobs and its dead letter, each as the
/// bytes the intake wrote (envelopes are JSON; reading them is the caller's business).
///
/// The file is a sequence of frames: a big-endian `u32` length, then the record's body. The body is: bytes claim
/// key, bytes claim token, `u32` job count, bytes per job, bytes dead letter; `bytes` is a `u32` length
/// (`0xFFFFFFFF` for none) and the bytes. Reading never traps, whatever the file holds.
public struct SpoolRecord: Sendable, Equatable {
    public var claimKey: [UInt8]?
    public var claimToken: [UInt8]?
    public var jobs: [[UInt8]]
    public var deadLetter: [UInt8]?

    public init(claimKey: [UInt8]?, claimToken: [UInt8]?, jobs: [[UInt8]], deadLetter: [UInt8]?) {
        self.claimKey = claimKey
        self.claimToken = claimToken
        self.jobs = jobs
        self.deadLetter = deadLetter
    }

    /// Appends the record's frame to `output`.
    public func encode(into output: inout [UInt8]) {
        var body: [UInt8] = []
        Self.appendBytes(claimKey, to: &body)
        Self.appendBytes(claimToken, to: &body)
        Self.appendUInt32(UInt32(truncatingIfNeeded: jobs.count), to: &body)
        for job in jobs { Self.appendBytes(job, to: &body) }
        Self.appendBytes(deadLetter, to: &body)
        Self.appendUInt32(UInt32(truncatingIfNeeded: body.count), to: &output)
        output += body
    }

    /// The frames of `bytes`, in order, as the ranges of their bodies; `end` is where the last whole frame ends.
    /// Anything after `end` is a frame cut short (an append that a crash interrupted) or bytes that are no frame.
    public static func frames(in bytes: [UInt8]) -> (bodies: [Range<Int>], end: Int) {
        var bodies: [Range<Int>] = []
        var cursor = 0
        while let length = readUInt32(bytes, at: cursor), Int(length) <= bytes.count - cursor - 4 {
            bodies.append((cursor + 4)..<(cursor + 4 + Int(length)))
            cursor += 4 + Int(length)
        }
        return (bodies, cursor)
    }

    /// Reads a frame's body (a range from ``frames(in:)``).
    public init(decoding bytes: [UInt8], body: Range<Int>) throws(SpoolRecordError) {
        guard body.lowerBound >= 0, body.upperBound <= bytes.count else { throw SpoolRecordError(reason: "the record lies outside the file") }
        var cursor = body.lowerBound
        func field(_ name: String) throws(SpoolRecordError) -> [UInt8]? {
            guard let length = Self.readUInt32(bytes, at: cursor), cursor + 4 <= body.upperBound else {
                throw SpoolRecordError(reason: "the \(name) is cut short")
            }
            cursor += 4
            if length == .max { return nil }
            guard Int(length) <= body.upperBound - cursor else { throw SpoolRecordError(reason: "the \(name) is longer than its record") }
            defer { cursor += Int(length) }
            return Array(bytes[cursor..<cursor + Int(length)])
        }
        let key = try field("claim key")
        let token = try field("claim token")
        guard let count = Self.readUInt32(bytes, at: cursor), cursor + 4 <= body.upperBound else {
            throw SpoolRecordError(reason: "the job count is cut short")
        }
        cursor += 4
        // Each job takes at least its 4-byte length: a count the record cannot hold is refused before any loop.
        guard Int(count) <= (body.upperBound - cursor) / 4 else { throw SpoolRecordError(reason: "the record cannot hold \(count) jobs") }
        var jobs: [[UInt8]] = []
        for number in 0..<Int(count) {
            guard let job = try field("job \(number + 1)") else { throw SpoolRecordError(reason: "job \(number + 1) is missing") }
            jobs.append(job)
        }
        let dead = try field("dead letter")
        guard cursor == body.upperBound else { throw SpoolRecordError(reason: "\(body.upperBound - cursor) bytes follow the dead letter") }
        self.init(claimKey: key, claimToken: token, jobs: jobs, deadLetter: dead)
    }

    private static func appendUInt32(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    private static func appendBytes(_ value: [UInt8]?, to bytes: inout [UInt8]) {
        guard let value else { appendUInt32(.max, to: &bytes); return }
        appendUInt32(UInt32(truncatingIfNeeded: value.count), to: &bytes)
        bytes += value
    }

    private static func readUInt32(_ bytes: [UInt8], at cursor: Int) -> UInt32? {
        guard cursor >= 0, cursor <= bytes.count - 4 else { return nil }
        return bytes[cursor..<cursor + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}

/// Why a spool record could not be read.
public struct SpoolRecordError: Error, CustomStringConvertible, Sendable, Equatable {
    public let reason: String
    public var description: String { "unreadable spool record: \(reason)" }
}
