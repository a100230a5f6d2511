import RedisClient

extension QueueStore {
    /// Reads counts, flow state, process list and latest events for `queues` in two round trips. `jobTypes` names
    /// the limited types flow control reports even when idle.
    public func snapshot(queues: [QueueConfiguration.QueueSettings], jobTypes: [String: QueueConfiguration.JobTypeSettings] = [:],
                         latestEvents: Int = 20) async throws -> QueueSnapshot {
        let limits = jobTypes.compactMapValues { $0.flow.isEmpty ? nil : $0.flow }
        let now = WallClock.nowMillis()
        let processes = try await registeredProcesses()
        var requests: [RedisRequest] = []
        for queue in queues {
            let k = keys(queue.name)
            requests.append(.command(RedisCommand("LLEN", k.ready)))
            requests.append(.command(RedisCommand("ZCARD", k.delayed)))
            requests.append(.command(RedisCommand("LLEN", k.dead)))
            requests.append(.command(RedisCommand("HGETALL", k.stats)))
            requests.append(.command(RedisCommand("LINDEX", k.ready, "-1")))
            requests.append(flowReport(queue: queue.name, limited: limits.keys.filter { jobTypes[$0]?.queue == queue.name }))
            if latestEvents > 0 { requests.append(.command(RedisCommand("LRANGE", k.events, "0", String(latestEvents - 1)))) }
            for (record, _) in processes {
                for holder in record.holders(of: queue.name) { requests.append(.command(RedisCommand("LLEN", k.active(holder: holder)))) }
            }
        }
        let replies = try await connection.pipeline(requests)
        var cursor = replies.makeIterator()
        func next() throws -> RedisValue { try cursor.next()!.checked() }
        var result = QueueSnapshot(takenAt: now, queues: [], processes: processes, events: [])
        for queue in queues {
            let ready = try next().int ?? 0
            let delayed = try next().int ?? 0
            let dead = try next().int ?? 0
            let stats = try next().integerFields
            let oldest = try next().bytes.flatMap { try? JobEnvelope(decoding: $0) }
            let flow = try flowState(queue: queue.name, reply: cursor.next() ?? .null, limits: limits)
            for line in latestEvents > 0 ? try next().array ?? [] : [] {
                if let bytes = line.bytes, let event = try? JobEvent(decoding: bytes, queue: queue.name) { result.events.append(event) }
            }
            var active = 0
            for (record, _) in processes {
                for _ in record.holders(of: queue.name) { active += try next().int ?? 0 }
            }
            result.queues.append(QueueSnapshot.Queue(
                name: queue.name, ready: ready, active: active, delayed: delayed, dead: dead,
                enqueued: stats["enqueued"] ?? 0, done: stats["done"] ?? 0, retried: stats["retried"] ?? 0,
                failed: stats["dead"] ?? 0, recovered: stats["recovered"] ?? 0,
                oldestReadyAgeMillis: oldest.map { max(0, now - $0.dueAt) }, maxDelayMillis: queue.maxDelay.milliseconds, flow: flow))
        }
        result.events.sort { $0.at > $1.at }
        result.events = Array(result.events.prefix(latestEvents))
        return result
    }

    /// The status of a job by id (pending, processing, retry, done, failed), or `nil` if unknown or expired.
    ///
    /// Looks through every queue's hourly buckets within the retention, newest first, in one pipeline.
    public func jobStatus(id: String, queues: [String]) async throws -> (queue: String, status: String)? {
        let currentHour = QueueKeys.hour(ofMillis: WallClock.nowMillis())
        let hours = Int64(statusTTLSeconds / 3600) + 1
        var lookups: [(queue: String, request: RedisRequest)] = []
        for hour in stride(from: currentHour, through: currentHour - hours, by: -1) {
            for queue in queues {
                lookups.append((queue, .command(RedisCommand("HGET", keys(queue).statusBucket(hour: hour), id))))
            }
        }
        let replies = try await connection.pipeline(lookups.map(\.request))
        for (lookup, reply) in zip(lookups, replies) {
            if let status = try reply.checked().string { return (lookup.queue, status) }
        }
        return nil
    }
}
