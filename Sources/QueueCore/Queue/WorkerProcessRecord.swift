/// A worker process as the registry describes it.
public struct WorkerProcessRecord: Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    public var startedAt: Int64
    /// The latest heartbeat, ms since the epoch.
    public var heartbeatAt: Int64

    public init(id: String, host: String, pid: Int, queues: [String], startedAt: Int64, heartbeatAt: Int64) {
        self.id = id
        self.host = host
        self.pid = pid
        self.queues = queues
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }

    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.beginObject()
        writer.field("id", id)
        writer.field("host", host)
        writer.field("pid", pid)
        var queueList: [UInt8] = [UInt8(ascii: "[")]
        for (index, queue) in queues.enumerated() {
            if index > 0 { queueList.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(queue, to: &queueList)
        }
        queueList.append(UInt8(ascii: "]"))
        writer.field("queues", raw: queueList)
        writer.field("started_at", startedAt)
        writer.field("heartbeat_at", heartbeatAt)
        writer.endObject()
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        let value = try JSONValue.parse(bytes)
        guard case .object = value else { throw EnvelopeError("process record is not an object") }
        func string(_ key: String) -> String { if case .string(let s) = value[key] { return s }; return "" }
        func number(_ key: String) -> Int64 { if case .number(let n) = value[key] { return Int64(n) }; return 0 }
        var queues: [String] = []
        if case .array(let elements) = value["queues"] {
            queues = elements.compactMap { if case .string(let s) = $0 { return s }; return nil }
        }
        self.init(id: string("id"), host: string("host"), pid: Int(number("pid")), queues: queues,
                  startedAt: number("started_at"), heartbeatAt: number("heartbeat_at"))
    }
}

/// What one recovery sweep did.
public struct RecoveryReport: Sendable, Equatable {
    /// Processes found dead and cleared from the registry.
    public var deadProcesses: [String] = []
    /// Jobs returned to their queues.
    public var recoveredJobs = 0

    public init() {}
}
