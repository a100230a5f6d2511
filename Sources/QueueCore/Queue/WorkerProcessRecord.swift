import Foundation

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

    /// The record as the registry stores it: JSON with snake_case members.
    public func encoded() -> [UInt8] {
        // Encoding a struct of strings and whole numbers cannot fail.
        (try? Self.encoder.encode(self)).map { Array($0) } ?? []
    }

    /// Reads a record from the registry. Redis may be written by anyone with access, so this never traps: a member
    /// missing or of the wrong kind reads as empty or 0 (see ``init(from:)``); only bytes that are not a JSON object
    /// throw.
    public init(decoding bytes: [UInt8]) throws {
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(bytes))
        } catch {
            throw EnvelopeError("process record is not a JSON object: \(error)")
        }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return encoder
    }()
}

extension WorkerProcessRecord: Codable {
    private enum CodingKeys: String, CodingKey {
        case id, host, pid, queues, workers
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
    }

    /// Lenient on every member: a number that is not whole or does not fit reads as 0, and a worker count outside
    /// 0...1000 (the configuration's limit) reads as 0 in its place, rather than shift the others or make a million
    /// holder names.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func string(_ key: CodingKeys) -> String { (try? container.decodeIfPresent(String.self, forKey: key)) ?? "" }
        func number(_ key: CodingKeys) -> Int64 { (try? container.decodeIfPresent(Int64.self, forKey: key)) ?? 0 }
        let queues = (try? container.decodeIfPresent([LenientString].self, forKey: .queues)) ?? []
        let workers = (try? container.decodeIfPresent([LenientCount].self, forKey: .workers)) ?? []
        self.init(id: string(.id), host: string(.host), pid: Int(truncatingIfNeeded: number(.pid)),
                  queues: queues.compactMap(\.value), workers: workers.map(\.value),
                  startedAt: number(.startedAt), heartbeatAt: number(.heartbeatAt))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(host, forKey: .host)
        try container.encode(pid, forKey: .pid)
        try container.encode(queues, forKey: .queues)
        try container.encode(workers, forKey: .workers)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(heartbeatAt, forKey: .heartbeatAt)
    }

    /// A queue name, or nil for an element that is not a string (dropped).
    private struct LenientString: Decodable {
        let value: String?
        init(from decoder: any Decoder) throws { value = try? decoder.singleValueContainer().decode(String.self) }
    }

    /// A worker count from 0 to 1000, or 0.
    private struct LenientCount: Decodable {
        let value: Int
        init(from decoder: any Decoder) throws {
            let count = try? decoder.singleValueContainer().decode(Int.self)
            value = count.flatMap { (0...1000).contains($0) ? $0 : nil } ?? 0
        }
    }
}
