import Parsing

/// One line of a queue's event log: what happened to a job, for `status` and the dashboard.
public struct JobEvent: Sendable, Equatable {
    public var at: Int64
    public var id: String
    public var type: String
    public var queue: String
    public var key: String?
    /// What happened: done, retry, postponed (a dependency was away), dead, recovered.
    public var event: String
    /// The job's status afterwards: pending, processing, retry, done, failed.
    public var status: String
    /// Attempts made so far, counting the one this event reports.
    public var attempt: Int
    public var error: String?

    public init(at: Int64, id: String, type: String, queue: String, key: String?, event: String, status: String, attempt: Int, error: String?) {
        self.at = at
        self.id = id
        self.type = type
        self.queue = queue
        self.key = key
        self.event = event
        self.status = status
        self.attempt = attempt
        self.error = error
    }

    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 160)
        writer.beginObject()
        writer.field("at", at)
        writer.field("id", id)
        writer.field("type", type)
        writer.field("queue", queue)
        if let key { writer.field("key", key) }
        writer.field("event", event)
        writer.field("status", status)
        writer.field("attempt", attempt)
        if let error { writer.field("error", error) }
        writer.endObject()
        return writer.bytes
    }

    /// Decodes an event; the queue comes from the list it was read from when the line does not carry it.
    public init(decoding bytes: [UInt8], queue: String) throws {
        var event = JobEvent(at: 0, id: "", type: "", queue: queue, key: nil, event: "", status: "", attempt: 0, error: nil)
        try JSONScanner.forEachMember(of: bytes) { name, range in
            switch name {
            case "at": event.at = try JSONScanner.integer(in: bytes, range) ?? 0
            case "id": event.id = try JSONScanner.string(in: bytes, range) ?? ""
            case "type": event.type = try JSONScanner.string(in: bytes, range) ?? ""
            case "queue": event.queue = try JSONScanner.string(in: bytes, range) ?? queue
            case "key": event.key = try JSONScanner.string(in: bytes, range)
            case "event": event.event = try JSONScanner.string(in: bytes, range) ?? ""
            case "status": event.status = try JSONScanner.string(in: bytes, range) ?? ""
            case "attempt": event.attempt = Int(try JSONScanner.integer(in: bytes, range) ?? 0)
            case "error": event.error = try JSONScanner.string(in: bytes, range)
            default: break
            }
        }
        self = event
    }
}
