import Parsing

/// A job as it travels through Redis: what to run, on which queue, and its history.
///
/// Stored as one JSON object with a fixed member order, `id` first and `payload` last. The Lua scripts rely on that
/// order: they read the id with `^{"id":"…"` and patch `"recoveries":N` at its first occurrence, which is always
/// this header's own member because string values escape their quotes and the payload comes after it.
/// Members this version does not know are kept verbatim (forward compatibility).
public struct JobEnvelope: Sendable, Equatable {
    public var id: String
    public var type: String
    public var queue: String
    /// Failed attempts so far; 0 until the first failure.
    public var attempt: Int
    /// Attempts allowed in all: the first run plus the retries.
    public var maxAttempts: Int
    /// How many times a dead worker's copy was returned to the queue.
    public var recoveries: Int
    /// Milliseconds since the Unix epoch.
    public var enqueuedAt: Int64
    /// When the job becomes due (delayed jobs and retries), ms since the epoch.
    public var runAt: Int64?
    /// What the job is about (a SKU, an order id), for events and search.
    public var key: String?
    /// Where it came from, e.g. `cli` or `woocommerce:product.updated:<delivery id>`.
    public var source: String?
    /// Set on jobs whose waiting copies merge (the upserts of one product, say): see ``Coalescing``.
    public var coalescing: Coalescing?
    public var firstError: String?
    public var lastError: String?
    /// When the first and the latest failures happened.
    public var firstFailedAt: Int64?
    public var lastFailedAt: Int64?
    /// When the job was dead-lettered.
    public var deadAt: Int64?
    /// The job's input: a JSON object, kept as the exact bytes it arrived with.
    public var payload: [UInt8]
    /// Members this version does not know, with their raw JSON values.
    public var unknownMembers: [UnknownMember]

    public struct UnknownMember: Sendable, Equatable {
        public var key: String
        public var rawValue: [UInt8]

        public init(key: String, rawValue: [UInt8]) {
            self.key = key
            self.rawValue = rawValue
        }
    }

    public init(
        id: String = JobID.make(), type: String, queue: String, payload: [UInt8] = Array("{}".utf8),
        maxAttempts: Int, enqueuedAt: Int64 = WallClock.nowMillis(), runAt: Int64? = nil,
        key: String? = nil, source: String? = nil
    ) {
        self.id = id
        self.type = type
        self.queue = queue
        self.attempt = 0
        self.maxAttempts = maxAttempts
        self.recoveries = 0
        self.enqueuedAt = enqueuedAt
        self.runAt = runAt
        self.key = key
        self.source = source
        self.payload = payload
        self.unknownMembers = []
    }

    /// Marks jobs about the same thing (a product) that may merge while they wait.
    ///
    /// While a merging job with this `key` waits in its queue, enqueueing another merging one keeps the one
    /// waiting job and gives it the payload with the greater `version` (for products, `date_modified_gmt`,
    /// compared as text: ISO times order correctly). So a burst of 50 updates of a product costs one job, and an
    /// older state arriving last does not replace a newer one. The state waits in `wq:{q}:coalesce` and joins
    /// the envelope when a worker takes it.
    ///
    /// A job that does not merge (`merges` false: the product's deletion) ends the merge window: a later
    /// update queues behind it instead of merging into the update waiting before it, so order is kept.
    public struct Coalescing: Sendable, Equatable {
        public var key: String
        public var version: String
        public var merges: Bool

        public init(key: String, version: String, merges: Bool = true) {
            self.key = key
            self.version = version
            self.merges = merges
        }
    }

    /// When the job was due: `runAt` for delayed jobs and retries, else the enqueue time.
    public var dueAt: Int64 { runAt ?? enqueuedAt }

    /// The payload as text, for display.
    public var payloadText: String { String(decoding: payload, as: UTF8.self) }
}

// MARK: - Wire format

extension JobEnvelope {
    /// Encodes the envelope in the fixed member order the scripts rely on.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 160 + payload.count)
        writer.beginObject()
        writer.field("id", id)
        writer.field("type", type)
        writer.field("queue", queue)
        writer.field("attempt", attempt)
        writer.field("max_attempts", maxAttempts)
        writer.field("recoveries", recoveries)
        writer.field("enqueued_at", enqueuedAt)
        if let runAt { writer.field("run_at", runAt) }
        if let key { writer.field("key", key) }
        if let source { writer.field("source", source) }
        if let coalescing {
            writer.field(coalescing.merges ? "coalesce" : "coalesce_barrier", coalescing.key)
            writer.field("coalesce_version", coalescing.version)
        }
        if let firstError { writer.field("first_error", firstError) }
        if let lastError { writer.field("last_error", lastError) }
        if let firstFailedAt { writer.field("first_failed_at", firstFailedAt) }
        if let lastFailedAt { writer.field("last_failed_at", lastFailedAt) }
        if let deadAt { writer.field("dead_at", deadAt) }
        for member in unknownMembers { writer.field(member.key, raw: member.rawValue) }
        writer.field("payload", raw: payload)
        writer.endObject()
        return writer.bytes
    }

    /// The envelope as it waits while coalescing: the payload is left out (`{}`, always last) until a worker
    /// takes the job and the fetch script puts the latest state in.
    func encodedAwaitingPayload() -> [UInt8] {
        var waiting = self
        waiting.payload = Array("{}".utf8)
        return waiting.encoded()
    }

    /// Decodes an envelope; throws ``EnvelopeError`` naming what is wrong.
    public init(decoding bytes: [UInt8]) throws {
        var id: String?, type: String?, queue: String?, payload: [UInt8]?
        var attempt: Int64 = 0, maxAttempts: Int64 = 1, recoveries: Int64 = 0, enqueuedAt: Int64 = 0
        var runAt: Int64?, key: String?, source: String?, firstError: String?, lastError: String?
        var firstFailedAt: Int64?, lastFailedAt: Int64?, deadAt: Int64?
        var coalesceKey: String?, coalesceBarrier: String?, coalesceVersion: String?
        var unknown: [UnknownMember] = []
        do {
            try JSONScanner.forEachMember(of: bytes) { name, range in
                switch name {
                case "id": id = try JSONScanner.string(in: bytes, range)
                case "type": type = try JSONScanner.string(in: bytes, range)
                case "queue": queue = try JSONScanner.string(in: bytes, range)
                case "attempt": attempt = try JSONScanner.integer(in: bytes, range) ?? 0
                case "max_attempts": maxAttempts = try JSONScanner.integer(in: bytes, range) ?? 1
                case "recoveries": recoveries = try JSONScanner.integer(in: bytes, range) ?? 0
                case "enqueued_at": enqueuedAt = try JSONScanner.integer(in: bytes, range) ?? 0
                case "run_at": runAt = try JSONScanner.integer(in: bytes, range)
                case "key": key = try JSONScanner.string(in: bytes, range)
                case "source": source = try JSONScanner.string(in: bytes, range)
                case "first_error": firstError = try JSONScanner.string(in: bytes, range)
                case "last_error": lastError = try JSONScanner.string(in: bytes, range)
                case "first_failed_at": firstFailedAt = try JSONScanner.integer(in: bytes, range)
                case "last_failed_at": lastFailedAt = try JSONScanner.integer(in: bytes, range)
                case "dead_at": deadAt = try JSONScanner.integer(in: bytes, range)
                case "coalesce": coalesceKey = try JSONScanner.string(in: bytes, range)
                case "coalesce_barrier": coalesceBarrier = try JSONScanner.string(in: bytes, range)
                case "coalesce_version": coalesceVersion = try JSONScanner.string(in: bytes, range)
                case "payload":
                    guard bytes[range.lowerBound] == UInt8(ascii: "{") else {
                        throw EnvelopeError("payload must be a JSON object")
                    }
                    payload = Array(bytes[range])
                default: unknown.append(UnknownMember(key: name, rawValue: Array(bytes[range])))
                }
            }
        } catch let error as JSONScanError {
            throw EnvelopeError("envelope is not valid JSON: \(error)")
        }
        guard let id, !id.isEmpty else { throw EnvelopeError("envelope has no id") }
        guard let type, !type.isEmpty else { throw EnvelopeError("envelope \(id) has no type") }
        guard let queue, !queue.isEmpty else { throw EnvelopeError("envelope \(id) has no queue") }
        self.id = id
        self.type = type
        self.queue = queue
        self.attempt = Int(attempt)
        self.maxAttempts = Int(maxAttempts)
        self.recoveries = Int(recoveries)
        self.enqueuedAt = enqueuedAt
        self.runAt = runAt
        self.key = key
        self.source = source
        self.firstError = firstError
        self.lastError = lastError
        self.firstFailedAt = firstFailedAt
        self.lastFailedAt = lastFailedAt
        self.deadAt = deadAt
        self.payload = payload ?? Array("{}".utf8)
        self.unknownMembers = unknown
        self.coalescing = coalesceKey.map { Coalescing(key: $0, version: coalesceVersion ?? "") }
            ?? coalesceBarrier.map { Coalescing(key: $0, version: coalesceVersion ?? "", merges: false) }
    }

    /// Reads only the id of an encoded envelope, as the scripts do; `nil` if the bytes do not start with one.
    public static func id(of encoded: [UInt8]) -> String? {
        let prefix = Array(#"{"id":""#.utf8)
        guard encoded.count > prefix.count, encoded.starts(with: prefix) else { return nil }
        guard let end = encoded[prefix.count...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return String(decoding: encoded[prefix.count..<end], as: UTF8.self)
    }

    /// The `type` of an envelope written by ``encoded()`` (second member), read without decoding it; `nil` for any
    /// other shape.
    public static func type(of encoded: [UInt8]) -> String? {
        let prefix = Array(#"{"id":""#.utf8), typeMember = Array(#"","type":""#.utf8)
        guard encoded.starts(with: prefix),
              let idEnd = encoded[prefix.count...].firstIndex(of: UInt8(ascii: "\"")),
              encoded[idEnd...].starts(with: typeMember) else { return nil }
        let start = idEnd + typeMember.count
        guard let end = encoded[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return String(decoding: encoded[start..<end], as: UTF8.self)
    }
}

/// Why bytes could not be read as a job envelope.
public struct EnvelopeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
