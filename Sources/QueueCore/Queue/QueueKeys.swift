/// The Redis keys of one queue. All share the `{queue}` hash tag, so each queue's scripts touch one cluster slot.
public struct QueueKeys: Sendable, Hashable {
    public let prefix: String
    public let queue: String
    private let base: String

    public init(prefix: String, queue: String) {
        self.prefix = prefix
        self.queue = queue
        self.base = "\(prefix):{\(queue)}"
    }

    /// List of envelopes waiting; LPUSH adds at the tail, workers take from the right (FIFO).
    public var ready: String { "\(base):ready" }
    /// Sorted set of envelopes due later (delayed jobs, retries); score = due time in ms.
    public var delayed: String { "\(base):delayed" }
    /// List of dead-lettered envelopes, newest first.
    public var dead: String { "\(base):dead" }
    /// Capped list of recent events, newest first.
    public var events: String { "\(base):events" }
    /// Hash of coalescing key → `<version>\n<payload>`: the latest state for a waiting coalesced job.
    public var coalesce: String { "\(base):coalesce" }
    /// Hash of counters: enqueued, done, retried, dead, recovered, coalesced.
    public var stats: String { "\(base):stats" }

    /// List of envelopes one worker holds (`holder` = `<process>.<worker>`); a job is never only in a process's
    /// memory. One list per worker: a worker whose fetch reply was lost knows that all its list holds is orphaned.
    public func active(holder: String) -> String { "\(base):active:\(holder)" }

    /// Hash of job id → status for the jobs whose status changed in one hour (`hour` = ms / 3,600,000).
    /// Hourly buckets expire as a whole, so status retention costs no per-job expiry.
    public func statusBucket(hour: Int64) -> String { "\(base):status:\(hour)" }

    public static func hour(ofMillis millis: Int64) -> Int64 { millis / 3_600_000 }
}

/// Keys shared by all queues: the registry of worker processes. They share the `{procs}` hash tag, so claiming
/// a dead process (check its heartbeat, remove it from the registry) is one atomic script.
public struct ProcessKeys: Sendable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    /// Hash of process id → JSON description (host, pid, queues, workers, started), for recovery and status.
    public var registry: String { "\(prefix):{procs}" }

    /// A process's heartbeat: a string with a TTL; its expiry means the process is silent, maybe dead.
    public func heartbeat(_ process: String) -> String { "\(prefix):{procs}:\(process)" }
}

/// Deliveries seen recently, by their claim key (the intake's is a hash of the body), to drop repeats and
/// replays: one string with a TTL each, under `{deliveries}`.
public struct DeliveryKeys: Sendable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    public func seen(_ claimKey: String) -> String { "\(prefix):{deliveries}:\(claimKey)" }
}

/// What the intake saw, per topic and per sender, for the store's lifecycle checks: `wq:{intake}:*`.
public struct IntakeKeys: Sendable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    /// Hash: topic → the ms time of the last delivery received for it.
    public var lastDelivery: String { "\(prefix):{intake}:last-delivery" }
    /// Hash: sender id (the store's id of what sent it) → deliveries refused for their signature.
    public var refusedSignatures: String { "\(prefix):{intake}:refused" }
}
