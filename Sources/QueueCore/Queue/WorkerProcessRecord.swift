import Parsing

/// A worker process as the registry describes it.
public struct WorkerProcessRecord: Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    /// Workers per queue, in the order of ``queues``.
    public var workers: [Int]
    public var startedAt: Int64
    /// The latest heartbeat, ms since the epoch.
    public var heartbeatAt: Int64

    public init(id: String, host: String, pid: Int, queues: [String], workers: [Int], startedAt: Int64, heartbeatAt: Int64) {
        self.id = id
        self.host = host
        self.pid = pid
        self.queues = queues
        self.workers = workers
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }

    /// The id of worker `index` of this process, which names its active lists.
    public static func holder(process: String, worker index: Int) -> String { "\(process).\(index)" }

    /// The holders of this process's active lists of `queue`.
    public func holders(of queue: String) -> [String] {
        guard let position = queues.firstIndex(of: queue), position < workers.count else { return [] }
        return (0..<workers[position]).map { Self.holder(process: id, worker: $0) }
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
        writer.field("workers", raw: Array("[\(workers.map(String.init).joined(separator: ","))]".utf8))
        writer.field("started_at", startedAt)
        writer.field("heartbeat_at", heartbeatAt)
        writer.endObject()
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        let value = try JSONValue.parse(bytes)
        guard case .object = value else { throw EnvelopeError("process record is not an object") }
        func string(_ key: String) -> String { if case .string(let s) = value[key] { return s }; return "" }
        // The record is read from Redis, which anyone with access may write to: numbers that are not whole or do
        // not fit read as 0, never trap.
        func number(_ key: String) -> Int64 { if case .number(let n) = value[key] { return Int64(exactly: n) ?? 0 }; return 0 }
        var queues: [String] = []
        if case .array(let elements) = value["queues"] {
            queues = elements.compactMap { if case .string(let s) = $0 { return s }; return nil }
        }
        var workers: [Int] = []
        if case .array(let elements) = value["workers"] {
            // One count per queue, in order: a count that is not a whole number from 0 to 1000 (the configuration's
            // limit) reads as 0 rather than shift the others or make a million holder names.
            workers = elements.map { element in
                guard case .number(let n) = element, let count = Int(exactly: n), (0...1000).contains(count) else { return 0 }
                return count
            }
        }
        self.init(id: string("id"), host: string("host"), pid: Int(truncatingIfNeeded: number("pid")), queues: queues, workers: workers,
                  startedAt: number("started_at"), heartbeatAt: number("heartbeat_at"))
    }
}

