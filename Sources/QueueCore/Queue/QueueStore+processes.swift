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

    /// Ends a process's heartbeat at once, leaving its registry entry: a process that stops with jobs still held
    /// is then recovered by the others without waiting for the heartbeat to expire.
    public func endHeartbeat(process: String) async throws {
        try await connection.send(RedisCommand("DEL", processKeys.heartbeat(process)))
    }

    /// How many jobs a process holds in its active lists.
    public func heldJobs(_ record: WorkerProcessRecord) async throws -> Int {
        let requests: [RedisRequest] = record.queues.flatMap { queue in
            record.holders(of: queue).map { .command(RedisCommand("LLEN", keys(queue).active(holder: $0))) }
        }
        return try await connection.pipeline(requests).reduce(0) { $0 + (try $1.checked().int ?? 0) }
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

    /// Registered processes whose heartbeat has expired, other than `selfID`: dead, or stalled.
    public func silentProcesses(except selfID: String? = nil) async throws -> [WorkerProcessRecord] {
        try await registeredProcesses().filter { !$0.alive && $0.record.id != selfID }.map(\.record)
    }

    /// Recovers a silent process: claims it atomically (only if its heartbeat is still absent), then returns
    /// the jobs of all its workers to the head of their queues, each with a recovery counted. Returns how many
    /// jobs went back to each queue, or `nil` when the process beat again or another process claimed it first.
    ///
    /// Any process may call this at any time. Should the process come back after the claim, its next heartbeat
    /// registers it again, so nothing it takes later is left without an owner; jobs it was running may run twice.
    public func recover(_ process: WorkerProcessRecord) async throws -> [String: Int]? {
        let claimed = try await connection.run(
            QueueScripts.claimProcess, keys: [processKeys.heartbeat(process.id), processKeys.registry],
            arguments: [Array(process.id.utf8)])
        guard let bytes = claimed.bytes else { return nil }
        let record = (try? WorkerProcessRecord(decoding: bytes)) ?? process
        var requests: [(queue: String, request: RedisRequest)] = []
        for queue in record.queues {
            for holder in record.holders(of: queue) { requests.append((queue, returnRequest(queue: queue, holder: holder, mode: "recover"))) }
        }
        var recovered: [String: Int] = [:]
        for (request, reply) in zip(requests, try await connection.pipeline(requests.map(\.request))) {
            recovered[request.queue, default: 0] += try reply.checked().int ?? 0
        }
        return recovered
    }

    /// Gives back to the head of the queue every job in a worker's own active list. A worker calls this when a
    /// fetch failed in a way that may have moved jobs without it learning which (a lost reply): at that point it
    /// runs nothing, so whatever its list holds is orphaned. No recovery is counted.
    public func returnHeld(queue: String, holder: String) async throws -> Int {
        try await connection.pipeline([returnRequest(queue: queue, holder: holder, mode: "return")])[0].checked().int ?? 0
    }

    private func returnRequest(queue: String, holder: String, mode: String) -> RedisRequest {
        let k = keys(queue)
        let now = WallClock.nowMillis()
        return .script(QueueScripts.recover,
                       keys: [k.active(holder: holder), k.ready, k.stats, statusBucket(queue, now: now), k.events],
                       arguments: [Array(String(now).utf8), Array(String(statusTTLSeconds).utf8),
                                   Array(String(eventsKept).utf8), Array(mode.utf8)])
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
