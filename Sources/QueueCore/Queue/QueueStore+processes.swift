import RedisClient

extension QueueStore {
    /// Renews a process's heartbeat and its registry entry in one round trip.
    public func heartbeat(_ record: WorkerProcessRecord, ttl: Duration) async throws {
        let encoded = record.encoded()
        var set = RedisCommand("SET", processKeys.heartbeat(record.id))
        set.append(encoded)
        set.append("PX")
        set.append(Int(ttl.milliseconds))
        var register = RedisCommand("HSET", processKeys.registry, record.id)
        register.append(encoded)
        for reply in try await connection.pipeline([.command(set), .command(register)]) { _ = try reply.checked() }
    }

    /// Removes a process that stopped cleanly (its active lists are empty by then).
    public func deregister(process: String) async throws {
        for reply in try await connection.pipeline([
            .command(RedisCommand("DEL", processKeys.heartbeat(process))),
            .command(RedisCommand("HDEL", processKeys.registry, process)),
        ]) { _ = try reply.checked() }
    }

    /// How many jobs a process holds in its active lists of `queues`.
    public func heldJobs(process: String, queues: [String]) async throws -> Int {
        let replies = try await connection.pipeline(queues.map { .command(RedisCommand("LLEN", keys($0).active(process: process))) })
        return try replies.reduce(0) { $0 + (try $1.checked().int ?? 0) }
    }

    /// Every registered process, with whether its heartbeat is alive.
    public func registeredProcesses() async throws -> [(record: WorkerProcessRecord, alive: Bool)] {
        let entries = try await connection.send(RedisCommand("HGETALL", processKeys.registry)).array ?? []
        var records: [WorkerProcessRecord] = []
        for index in stride(from: 1, to: entries.count, by: 2) {
            if let bytes = entries[index].bytes, let record = try? WorkerProcessRecord(decoding: bytes) { records.append(record) }
        }
        if records.isEmpty { return [] }
        let beats = try await connection.pipeline(records.map { .command(RedisCommand("GET", processKeys.heartbeat($0.id))) })
        return zip(records, beats).map { record, beat in
            if let bytes = beat.bytes, let latest = try? WorkerProcessRecord(decoding: bytes) { return (latest, true) }
            return (record, false)
        }
    }

    /// Finds registered processes whose heartbeat expired and returns their jobs to the head of their queues.
    ///
    /// Any process may run this at any time: the recovery of one process's list is one atomic script, so when
    /// two processes sweep together each job is moved once.
    public func recoverDeadProcesses(except selfID: String? = nil) async throws -> RecoveryReport {
        var report = RecoveryReport()
        let now = WallClock.nowMillis()
        for (record, alive) in try await registeredProcesses() where !alive && record.id != selfID {
            let requests: [RedisRequest] = record.queues.map { queue in
                let k = keys(queue)
                return .script(QueueScripts.recover,
                               keys: [k.active(process: record.id), k.ready, k.stats, statusBucket(queue, now: now), k.events],
                               arguments: [Array(String(now).utf8), Array(String(statusTTLSeconds).utf8), Array(String(eventsKept).utf8)])
            }
            for reply in try await connection.pipeline(requests) { report.recoveredJobs += try reply.checked().int ?? 0 }
            try await connection.send(RedisCommand("HDEL", processKeys.registry, record.id))
            report.deadProcesses.append(record.id)
        }
        return report
    }

    /// Checks that Redis will not evict keys: with any `maxmemory-policy` but `noeviction`, a full Redis deletes
    /// queued jobs. Throws an explanation; returns the policy found.
    @discardableResult
    public func checkEvictionPolicy() async throws -> String {
        let reply: RedisValue
        do {
            reply = try await connection.send(RedisCommand("CONFIG", "GET", "maxmemory-policy"))
        } catch let error as RedisError where error.kind == .server {
            throw RedisError(.server, "cannot read Redis's maxmemory-policy (CONFIG GET refused: \(error.message)). "
                + "Make sure it is noeviction (evicting keys deletes queued jobs), then start with --allow-eviction "
                + "or redis.allowEviction in config.json to skip this check.")
        }
        guard let values = reply.array, values.count >= 2, let policy = values[1].string else {
            throw RedisError(.unexpectedReply, "CONFIG GET maxmemory-policy returned \(reply)")
        }
        guard policy == "noeviction" else {
            throw EvictionPolicyError(policy: policy)
        }
        return policy
    }
}

/// Redis may delete keys when full, which would silently lose queued jobs.
public struct EvictionPolicyError: Error, CustomStringConvertible, Sendable {
    public let policy: String

    public init(policy: String) { self.policy = policy }

    public var description: String {
        "Redis runs with maxmemory-policy \(policy): when memory is full it evicts keys, which deletes queued jobs. "
            + "Set 'maxmemory-policy noeviction' in redis.conf (redis/redis.conf does), or start with --allow-eviction "
            + "(or redis.allowEviction in config.json) if you accept losing jobs."
    }
}
