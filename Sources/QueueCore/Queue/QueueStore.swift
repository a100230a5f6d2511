import Foundation
public import RedisClient

/// The queue operations over one Redis connection: enqueue, fetch, settle, schedule, recover, inspect.
///
/// Each operation is one script call or one pipeline: one round trip however many jobs it carries.
public final class QueueStore: Sendable {
    public let connection: RedisConnection
    public let prefix: String
    /// How long a job's status stays readable after its last change, in seconds.
    let statusTTLSeconds: Int
    let eventsKept: Int
    /// When set, enqueues, settles and deliveries wait for this many replicas (`redis.waitReplicas`).
    public let replicationWait: ReplicationWait?

    /// - Parameters:
    ///   - connection: the store's connection; blocking waits (``waitForJob(queue:holder:timeout:)``) occupy it.
    ///   - prefix: the key prefix (`wq`).
    ///   - statusRetention: how long a job's status is kept after its last change.
    ///   - eventsKept: length of each queue's event log.
    ///   - replicationWait: replicas to wait for after an enqueue, a settle or a delivery; `nil` waits for none.
    public init(connection: RedisConnection, prefix: String, statusRetention: Duration = .seconds(86_400), eventsKept: Int = 1000,
                replicationWait: ReplicationWait? = nil) {
        self.connection = connection
        self.prefix = prefix
        self.statusTTLSeconds = Int(statusRetention.milliseconds / 1000)
        self.eventsKept = eventsKept
        self.replicationWait = replicationWait
    }

    /// A store on a new connection to the Redis at `url` (`redis://…`), named `label` in errors and logs.
    public convenience init(url: String, label: String, prefix: String, statusRetention: Duration = .seconds(86_400),
                            eventsKept: Int = 1000, replicationWait: ReplicationWait? = nil) throws {
        self.init(connection: RedisConnection(configuration: try RedisConfiguration(url: url), label: label), prefix: prefix,
                  statusRetention: statusRetention, eventsKept: eventsKept, replicationWait: replicationWait)
    }

    /// A store on its own new connection with the same settings, for a worker that blocks on it.
    public func withNewConnection(label: String) -> QueueStore {
        QueueStore(
            connection: RedisConnection(configuration: connection.configuration, label: label), prefix: prefix,
            statusRetention: .seconds(Int64(statusTTLSeconds)), eventsKept: eventsKept, replicationWait: replicationWait)
    }

    public func keys(_ queue: String) -> QueueKeys { QueueKeys(prefix: prefix, queue: queue) }

    /// True when Redis answers a PING now (for readiness checks).
    public func isReachable() async -> Bool {
        (try? await connection.send("PING")) != nil
    }

    public var processKeys: ProcessKeys { ProcessKeys(prefix: prefix) }

    func statusBucket(_ queue: String, now: Int64 = WallClock.nowMillis()) -> String {
        keys(queue).statusBucket(hour: QueueKeys.hour(ofMillis: now))
    }

    // MARK: - Enqueue

    /// What an enqueue did.
    public struct EnqueueResult: Sendable, Equatable {
        /// New jobs stored.
        public var added = 0
        /// Coalescing jobs merged into one already waiting.
        public var merged = 0

        public init(added: Int = 0, merged: Int = 0) {
            self.added = added
            self.merged = merged
        }
    }

    /// Stores jobs on their queues: due ones at the tail of ready, ones with a future `runAt` in delayed, and
    /// coalescing ones merged into their waiting twin if there is one (see ``JobEnvelope/Coalescing``).
    ///
    /// Jobs go in chunks of 500 per script call and all chunks in one pipeline; the call returns once Redis has
    /// them all. Within a queue, jobs keep the order they are given in.
    ///
    /// With ``replicationWait``, the same pipeline ends with `WAIT`, and a write fewer replicas confirmed in time
    /// throws ``ReplicationShortfall`` (the jobs are in Redis, not yet safe from a failover). `waitForReplicas:
    /// false` leaves the wait to the caller, who writes more first (the intake).
    @discardableResult
    public func enqueue(_ jobs: [JobEnvelope], now: Int64 = WallClock.nowMillis(), waitForReplicas: Bool = true) async throws -> EnqueueResult {
        var requests: [RedisRequest] = []
        var queueOrder: [String] = []
        var byQueue: [String: [JobEnvelope]] = [:]
        for job in jobs {
            if byQueue[job.queue] == nil { queueOrder.append(job.queue) }
            byQueue[job.queue, default: []].append(job)
        }
        for queue in queueOrder {
            let jobsOfQueue = byQueue[queue]!
            let k = keys(queue)
            for start in stride(from: 0, to: jobsOfQueue.count, by: 500) {
                var arguments: [[UInt8]] = [Array(String(statusTTLSeconds).utf8)]
                for job in jobsOfQueue[start..<min(start + 500, jobsOfQueue.count)] {
                    let due = Array(String((job.runAt ?? 0) > now ? job.runAt! : 0).utf8)
                    switch job.coalescing {
                    case nil:
                        arguments += [Array("j".utf8), Array(job.id.utf8), due, job.encoded()]
                    case let coalescing? where !coalescing.merges:
                        arguments += [Array("b".utf8), Array(job.id.utf8), due, job.encoded(), Array(coalescing.key.utf8)]
                    case let coalescing?:
                        arguments += [Array("c".utf8), Array(job.id.utf8), due, job.encodedAwaitingPayload(), Array(coalescing.key.utf8),
                                      Array(coalescing.version.utf8), job.payload]
                    }
                }
                requests.append(.script(QueueScripts.enqueue, keys: [k.ready, k.delayed, k.stats, statusBucket(queue, now: now), k.coalesce],
                                        arguments: arguments))
            }
        }
        let wait = waitForReplicas && !requests.isEmpty ? replicationWait : nil
        if let wait { requests.append(wait.command) }
        var replies = try await connection.pipeline(requests)
        let waited = wait == nil ? nil : replies.popLast()
        var result = EnqueueResult()
        for reply in replies {
            let counts = try reply.checked().array ?? []
            result.added += counts.first?.int ?? 0
            result.merged += counts.dropFirst().first?.int ?? 0
        }
        if let shortfall = try wait?.check(waited, operation: "enqueue") { throw shortfall }
        return result
    }

    // MARK: - Fetch

    /// Moves up to `max` due envelopes (no more than a fair share for `workers` workers) from ready to the
    /// holder's active list and returns them oldest first. `held`, an envelope the worker already took with
    /// ``waitForJob(queue:holder:timeout:)``, comes first; coalescing jobs come with their latest payload. With
    /// `markProcessing` (the default) each job's status becomes `processing`; without, it stays `pending` until
    /// its outcome (`workers.jobStatus: "outcomes"`).
    public func fetch(queue: String, holder: String, max: Int, workers: Int, held: [UInt8]? = nil, markProcessing: Bool = true) async throws -> [[UInt8]] {
        let k = keys(queue)
        var arguments: [[UInt8]] = [Array(String(max).utf8), Array(String(Swift.max(workers, 1)).utf8), Array(String(statusTTLSeconds).utf8),
                                    Array((markProcessing ? "1" : "0").utf8)]
        if let held { arguments.append(held) }
        let reply = try await connection.run(QueueScripts.fetch, keys: [k.ready, k.active(holder: holder), statusBucket(queue), k.coalesce],
                                             arguments: arguments)
        return (reply.array ?? []).compactMap(\.bytes)
    }

    /// Waits up to `timeout` for one envelope with `BLMOVE` (ready → active) and returns it, or `nil`.
    ///
    /// Holds this store's connection for the whole wait: use a store of its own.
    public func waitForJob(queue: String, holder: String, timeout: Duration) async throws -> [UInt8]? {
        let k = keys(queue)
        let seconds = String(format: "%.3f", Double(timeout.milliseconds) / 1000)
        let reply = try await connection.send(RedisCommand("BLMOVE", k.ready, k.active(holder: holder), "RIGHT", "LEFT", seconds))
        return reply.bytes
    }

    // MARK: - Settle

    /// Writes the outcome of finished jobs in one script call. Returns how many were no longer in the holder's
    /// list: recovered by another process meanwhile, or written already by an earlier call whose reply was lost.
    ///
    /// With ``replicationWait`` the call also waits for the replicas; a shortfall is counted and logged
    /// (``RedisHealth``), not thrown: the outcome is written, and a failover that lost it runs the job again.
    @discardableResult
    public func settle(queue: String, holder: String, _ settlements: [Settlement]) async throws -> Int {
        if settlements.isEmpty { return 0 }
        let k = keys(queue)
        var arguments: [[UInt8]] = [Array(String(statusTTLSeconds).utf8), Array(String(eventsKept).utf8)]
        Self.appendRecords(of: settlements, to: &arguments)
        let keys = [k.active(holder: holder), k.ready, k.delayed, k.dead, k.stats, statusBucket(queue), k.events]
        return try await runWaitingForReplicas(.script(QueueScripts.settle, keys: keys, arguments: arguments)).int ?? 0
    }

    /// Writes the outcome of finished jobs and takes the next ones in one script call (ack-and-fetch): a busy
    /// worker's one round trip per batch. Settles as ``settle(queue:holder:_:)`` does, then takes as
    /// ``fetch(queue:holder:max:workers:held:markProcessing:)`` does; returns how many outcomes found their job
    /// no longer held, and the envelopes taken.
    public func settleAndFetch(queue: String, holder: String, _ settlements: [Settlement], max: Int, workers: Int,
                               markProcessing: Bool = true) async throws -> (stale: Int, taken: [[UInt8]]) {
        let k = keys(queue)
        var arguments: [[UInt8]] = [Array(String(statusTTLSeconds).utf8), Array(String(eventsKept).utf8), Array(String(max).utf8),
                                    Array(String(Swift.max(workers, 1)).utf8), Array((markProcessing ? "1" : "0").utf8)]
        Self.appendRecords(of: settlements, to: &arguments)
        let keys = [k.active(holder: holder), k.ready, k.delayed, k.dead, k.stats, statusBucket(queue), k.events, k.coalesce]
        let reply = try await runWaitingForReplicas(.script(QueueScripts.settleAndFetch, keys: keys, arguments: arguments)).array ?? []
        return (reply.first?.int ?? 0, reply.dropFirst().compactMap(\.bytes))
    }

    /// The settle scripts' records: seven arguments per outcome (kind, id, held, held length, new envelope, due,
    /// event). A large held envelope goes as its length alone (Lua `release_large` finds it by its id), when it
    /// starts with that id as ``JobEnvelope/encoded()`` writes it; not for a requeue (given back newest first, so not
    /// from the tail), nor for bytes that are not such an envelope (dead-lettered under a new id).
    private static func appendRecords(of settlements: [Settlement], to arguments: inout [[UInt8]]) {
        arguments.reserveCapacity(arguments.count + settlements.count * 7)
        for settlement in settlements {
            arguments.append(Array(settlement.kind.rawValue.utf8))
            arguments.append(Array(settlement.id.utf8))
            if settlement.held.count >= QueueScripts.largeEnvelope, settlement.kind != .requeue,
               JobEnvelope.id(of: settlement.held) == settlement.id {
                arguments.append([])
                arguments.append(Array(String(settlement.held.count).utf8))
            } else {
                arguments.append(settlement.held)
                arguments.append([])
            }
            arguments.append(settlement.replacement ?? [])
            arguments.append(Array(String(settlement.due ?? 0).utf8))
            arguments.append(settlement.event?.encoded() ?? [])
        }
    }

    /// Runs a settling script; with ``replicationWait``, pipelined with the wait, whose shortfall is counted and
    /// logged (``RedisHealth``), not thrown: the outcome is written, and a failover that lost it runs the job again.
    private func runWaitingForReplicas(_ request: RedisRequest) async throws -> RedisValue {
        guard let wait = replicationWait else { return try await connection.pipeline([request])[0].checked() }
        let replies = try await connection.pipeline([request, wait.command])
        _ = try wait.check(replies.last, operation: "settle")
        return try replies[0].checked()
    }

    // MARK: - Scheduler

    /// Moves delayed jobs due by `now` to their ready lists, in one pipeline over all queues; returns how many.
    /// Pass `Int64.max` to release everything at once ("process queue now").
    @discardableResult
    public func promoteDue(queues: [String], now: Int64 = WallClock.nowMillis(), limit: Int = 1000) async throws -> Int {
        let bucketTime = WallClock.nowMillis()
        var moved = 0
        var pending = queues
        // A queue that hit the limit may have more due: go round again for those only.
        while !pending.isEmpty {
            let requests: [RedisRequest] = pending.map { queue in
                let k = keys(queue)
                return .script(QueueScripts.promote, keys: [k.delayed, k.ready, statusBucket(queue, now: bucketTime)],
                               arguments: [Array(String(now).utf8), Array(String(limit).utf8), Array(String(statusTTLSeconds).utf8)])
            }
            let replies = try await connection.pipeline(requests)
            var again: [String] = []
            for (queue, reply) in zip(pending, replies) {
                let count = try reply.checked().int ?? 0
                moved += count
                if count >= limit { again.append(queue) }
            }
            pending = again
        }
        return moved
    }
}

extension QueueStore {
    /// Deletes every key under this store's prefix (benchmarks and tests use a prefix of their own).
    @discardableResult
    public func deleteAllKeys() async throws -> Int {
        var cursor = "0"
        var deleted = 0
        repeat {
            let reply = try await connection.send(RedisCommand("SCAN", cursor, "MATCH", "\(prefix):*", "COUNT", "1000")).array ?? []
            guard reply.count == 2, let next = reply[0].string else { throw RedisError(.unexpectedReply, "SCAN returned \(reply)") }
            cursor = next
            let keys = (reply[1].array ?? []).compactMap(\.string)
            if !keys.isEmpty { deleted += try await connection.send(RedisCommand("DEL", arguments: keys)).int ?? 0 }
        } while cursor != "0"
        return deleted
    }
}
