import RedisClient

/// The state of long tasks that outlive one process (a catalogue comparison, a periodic sweep), kept in Redis
/// under a hash tag of the task's name, so a task's keys stay on one cluster slot. The keys are named here and
/// nowhere else.
public struct TaskKeys: Sendable {
    public let prefix: String
    public let task: String

    public init(prefix: String, task: String) {
        self.prefix = prefix
        self.task = task
    }

    /// Hash of a resumable run's integer fields (`wq:{bootstrap}:cursor`).
    public var cursor: String { "\(prefix):{\(task)}:cursor" }
    /// Set of what a resumable run has seen so far (`wq:{bootstrap}:<members>`).
    public func seen(_ members: String) -> String { "\(prefix):{\(task)}:\(members)" }
    /// String: a task's last mark, such as the time of the last sweep (`wq:{reconcile}:last`).
    public var last: String { "\(prefix):{\(task)}:last" }
    /// String with a TTL: the lease that lets one process run the task (`wq:{reconcile}:lock`).
    public var lock: String { "\(prefix):{\(task)}:lock" }
    /// Hash of a periodic task's notes of one kind, text by name (`wq:{<task>}:<notes>`).
    public func notes(_ name: String) -> String { "\(prefix):{\(task)}:\(name)" }
}

/// A run that can resume after an interruption: integer fields (the next page, running counts) and a set of
/// members seen, both kept for `retention` after the last save.
public struct ResumableRun: Sendable {
    let connection: RedisConnection
    let keys: TaskKeys
    let membersName: String

    /// The fields saved by an unfinished run; empty when there is none.
    public func fields() async throws -> [String: Int] {
        try await connection.send(RedisCommand("HGETALL", keys.cursor)).integerFields
    }

    /// Saves the fields and renews both keys' lifetime, in one round trip.
    public func save(_ fields: [(String, Int)], retention: Duration) async throws {
        var set = RedisCommand("HSET", keys.cursor)
        for (name, value) in fields { set.append(name); set.append(String(value)) }
        let seconds = String(retention.components.seconds)
        try await connection.pipeline([
            .command(set),
            .command(RedisCommand("EXPIRE", keys.cursor, seconds)),
            .command(RedisCommand("EXPIRE", keys.seen(membersName), seconds)),
        ]).forEach { _ = try $0.checked() }
    }

    /// Adds members to the set seen.
    public func addSeen(_ members: [String]) async throws {
        if members.isEmpty { return }
        try await connection.send(RedisCommand("SADD", arguments: [keys.seen(membersName)] + members))
    }

    /// Every member seen so far.
    public func seen() async throws -> Set<String> {
        Set((try await connection.send(RedisCommand("SMEMBERS", keys.seen(membersName))).array ?? []).compactMap(\.string))
    }

    /// Forgets the run (after it finished, or to start over).
    public func clear() async throws {
        try await connection.send(RedisCommand("DEL", keys.cursor, keys.seen(membersName)))
    }
}

/// A periodic task's shared state: its last mark, and a lease so that one process of many runs it per interval.
public struct PeriodicTask: Sendable {
    let connection: RedisConnection
    let keys: TaskKeys

    /// The last mark set, or nil before the first.
    public func lastMark() async throws -> String? {
        try await connection.send(RedisCommand("GET", keys.last)).string
    }

    public func setLastMark(_ mark: String) async throws {
        try await connection.send(RedisCommand("SET", keys.last, mark))
    }

    /// Takes the lease for `duration` if no process holds it; true when `owner` got it.
    public func tryLease(owner: String, for duration: Duration) async throws -> Bool {
        let milliseconds = max(1, duration.milliseconds)
        return try await connection.send(RedisCommand("SET", keys.lock, owner, "NX", "PX", String(milliseconds))).string == "OK"
    }

    /// The task's notes of one kind (what its last run found, what it still owes), by name.
    public func notes(_ kind: String) async throws -> [String: String] {
        try await connection.send(RedisCommand("HGETALL", keys.notes(kind))).stringFields
    }

    /// Replaces the notes of one kind with `notes` (one round trip).
    public func replaceNotes(_ kind: String, with notes: [String: String]) async throws {
        var requests: [RedisRequest] = [.command(RedisCommand("DEL", keys.notes(kind)))]
        if !notes.isEmpty {
            var set = RedisCommand("HSET", keys.notes(kind))
            for (name, text) in notes.sorted(by: { $0.key < $1.key }) { set.append(name); set.append(text) }
            requests.append(.command(set))
        }
        for reply in try await connection.pipeline(requests) { _ = try reply.checked() }
    }

    public func setNote(_ kind: String, name: String, text: String) async throws {
        try await connection.send(RedisCommand("HSET", keys.notes(kind), name, text))
    }

    public func removeNote(_ kind: String, name: String) async throws {
        try await connection.send(RedisCommand("HDEL", keys.notes(kind), name))
    }
}

extension QueueStore {
    /// The resumable run of `task`, whose set of members seen is named `members`.
    public func resumableRun(_ task: String, members: String) -> ResumableRun {
        ResumableRun(connection: connection, keys: TaskKeys(prefix: prefix, task: task), membersName: members)
    }

    /// The shared state of the periodic `task`.
    public func periodicTask(_ task: String) -> PeriodicTask {
        PeriodicTask(connection: connection, keys: TaskKeys(prefix: prefix, task: task))
    }
}
