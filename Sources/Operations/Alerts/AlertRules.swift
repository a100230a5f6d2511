public import QueueCore

/// One alert condition as evaluated now.
public struct AlertCondition: Sendable, Equatable {
    /// Stable name, e.g. `dead:bulk` or `spool@web1:4242`.
    public var id: String
    public var firing: Bool
    /// What holds (or held), and what to do about it.
    public var message: String
    /// Whether every `serve` sees it the same (Redis state), or only the process that evaluated it.
    public var clusterWide: Bool
}

/// What only this process knows, for its own conditions.
public struct LocalReadings: Sendable {
    /// Deliveries refused for their signature since the process started.
    public var badSignatures: Int
    /// Bytes of deliveries waiting in this process's spool for Redis.
    public var spooledDeliveries: Int
    /// True when the spool cannot be replayed although Redis answers (it refuses writes).
    public var spoolStuck: Bool
    /// Bytes of unreadable spool records moved to the quarantine, waiting for a person.
    public var quarantinedBytes: Int
    /// Deliveries refused since the process started because too many unverified bodies were held at once.
    public var overloadedDeliveries: Int
    /// Writes whose `WAIT` for `redis.waitReplicas` timed out since the process started (``RedisHealth``).
    public var replicationShortfalls: Int
    /// Switches of the Redis primary Sentinel announced since the process started.
    public var failovers: Int

    public init(badSignatures: Int, spooledDeliveries: Int, spoolStuck: Bool = false, quarantinedBytes: Int = 0,
                overloadedDeliveries: Int = 0, replicationShortfalls: Int = 0, failovers: Int = 0) {
        self.badSignatures = badSignatures
        self.spooledDeliveries = spooledDeliveries
        self.spoolStuck = spoolStuck
        self.quarantinedBytes = quarantinedBytes
        self.overloadedDeliveries = overloadedDeliveries
        self.replicationShortfalls = replicationShortfalls
        self.failovers = failovers
    }
}

/// The alert conditions (README, Operations → Alerts): webhook deliveries kept for review; per queue, dead letters over the threshold, pending jobs
/// over the threshold (saying how many a pause keeps), the next job older than the queue's max delay (not while
/// the queue is paused), and jobs with no live worker; per job type, a circuit not closed and a dependency's
/// `Retry-After` hold; per
/// process, a non-empty spool, a stuck spool, a spool quarantine that holds records, a rate of bad signatures, and
/// deliveries refused because too many unverified bodies were held at once.
public enum AlertRules {
    /// - Parameters:
    ///   - snapshot: the cluster's queues; `nil` when Redis cannot be read (only this process's conditions are
    ///     evaluated then).
    ///   - keptDeliveries: webhook deliveries kept for review (the `webhooks` dead-letter list); `nil` when unread.
    public static func evaluate(_ snapshot: QueueSnapshot?, keptDeliveries: Int? = nil, settings: AlertSettings,
                                process: String, local: LocalReadings, badSignaturesPerMinute: Int,
                                overloadedPerMinute: Int = 0, replicationShortfallsPerMinute: Int = 0,
                                failoversPerMinute: Int = 0, webhookProblems: [String: String]? = nil,
                                watchedTopics: [String] = [], lastDeliveries: [String: Int64]? = nil,
                                silence: Duration = .zero, jobTypes: [String: QueueConfiguration.JobTypeSettings] = [:],
                                now: Int64 = WallClock.nowMillis()) -> [AlertCondition] {
        var conditions: [AlertCondition] = []
        // Topics quiet for longer than webhooks.silenceAlert (a topic with no delivery recorded yet cannot be).
        if let lastDeliveries, silence > .zero {
            for topic in watchedTopics.sorted() {
                // Read back from Redis: a value that makes no sense (overflow) counts as no delivery recorded.
                let quietFor = lastDeliveries[topic].flatMap { last in
                    let (quiet, overflow) = now.subtractingReportingOverflow(last)
                    return overflow ? nil : quiet
                }
                conditions.append(AlertCondition(
                    id: "webhook-silent:\(topic)", firing: quietFor.map { $0 > silence.milliseconds } ?? false,
                    message: "no \(topic) delivery has arrived for \((quietFor ?? 0) / 60_000) min (webhooks.silenceAlert is \(silence.milliseconds / 60_000) min): check the store's webhook with `wooqueue webhooks status`; a quiet store explains it too",
                    clusterWide: true))
            }
        }
        // The webhook check's findings (`nil`: not read, so neither firing nor resolved).
        if let webhookProblems {
            for topic in watchedTopics.sorted() {
                let problem = webhookProblems[topic] ?? "delivers again"
                conditions.append(AlertCondition(
                    id: "webhook-disabled:\(topic)", firing: webhookProblems[topic] != nil,
                    message: "the store's webhook for \(topic): \(problem). Its deliveries do not reach wooqueue; run `wooqueue webhooks sync` (or set webhooks.autoRepair). What it misses is caught up on once it delivers again",
                    clusterWide: true))
            }
        }
        if let keptDeliveries {
            conditions.append(AlertCondition(
                id: "kept-deliveries", firing: keptDeliveries > 0,
                message: "\(keptDeliveries) webhook deliveries are kept for review and became no jobs (no route, or a body that does not fit its topic); see `wooqueue dlq list --queue webhooks` or /admin/dlq?queue=webhooks, fix the route, then retry them",
                clusterWide: true))
        }
        for queue in snapshot?.queues ?? [] {
            let name = queue.name
            conditions.append(AlertCondition(
                id: "dead:\(name)", firing: queue.dead > settings.deadLetterThreshold,
                message: "queue \(name) has \(queue.dead) dead-lettered jobs (threshold \(settings.deadLetterThreshold)); review them with `wooqueue dlq list --queue \(name)` or on /admin",
                clusterWide: true))
            let pending = queue.ready + queue.delayed + queue.waitingInFlow
            let kept = queue.paused
            let advice = kept > 0
                ? "\(kept) of them are kept by a pause (\(queue.flow.pausedUntil != nil ? "the queue is paused" : "paused job types: \(queue.flow.types.filter { $0.pausedUntil != nil }.map(\.type).joined(separator: ", "))")); `wooqueue resume` starts them"
                : "check that its workers run and keep up"
            conditions.append(AlertCondition(
                id: "pending:\(name)", firing: pending > settings.pendingThreshold,
                message: "queue \(name) has \(pending) pending jobs, ready, delayed or waiting in flow control (threshold \(settings.pendingThreshold)); \(advice)",
                clusterWide: true))
            // Every configured type of the queue, and any other with a flow state: a condition that is no longer
            // listed would never be announced as resolved.
            var types = queue.flow.types
            for (name, settings) in jobTypes.sorted(by: { $0.key < $1.key })
            where settings.queue == queue.name && !types.contains(where: { $0.type == name }) {
                types.append(FlowTypeState(type: name, queue: queue.name, limits: settings.flow))
            }
            for type in types {
                conditions.append(AlertCondition(
                    id: "circuit-open:\(type.type)", firing: type.circuit != "closed",
                    message: type.circuit == "closed"
                        ? "the circuit of job type \(type.type) is closed: its calls succeed again"
                        : "the circuit of job type \(type.type) is \(type.circuit): its calls kept failing, so none starts until the cool-down is over and a probe succeeds (\(type.throttled + type.waiting) jobs wait, no attempt lost); check what it calls",
                    clusterWide: true))
                let heldFor = type.heldUntil.map { ($0 - queue.flow.now) / 1000 }
                conditions.append(AlertCondition(
                    id: "held:\(type.type)", firing: heldFor != nil,
                    message: heldFor.map { "what job type \(type.type) calls answered 429 or 503 with Retry-After: its jobs wait \($0) s more, without losing attempts (\(type.throttled) waiting)" }
                        ?? "job type \(type.type) is no longer held by a Retry-After",
                    clusterWide: true))
            }
            let age = (queue.oldestReadyAgeMillis ?? 0) / 1000
            conditions.append(AlertCondition(
                id: "late:\(name)", firing: queue.isLate,
                message: "the next job of queue \(name) has waited \(age) s, longer than its max delay of \(queue.maxDelayMillis / 1000) s; add workers for \(name)",
                clusterWide: true))
            let workers = (snapshot?.processes ?? []).filter(\.alive).reduce(0) { $0 + $1.record.holders(of: name).count }
            conditions.append(AlertCondition(
                id: "no-worker:\(name)", firing: queue.ready > 0 && workers == 0,
                message: "queue \(name) has \(queue.ready) ready jobs and no live worker serves it; start `wooqueue work` (or `serve`) for \(name)",
                clusterWide: true))
        }
        conditions.append(AlertCondition(
            id: "spool@\(process)", firing: local.spooledDeliveries > 0,
            message: "\(process) keeps \(local.spooledDeliveries) bytes of webhook deliveries in its local spool because Redis is unreachable, no primary answers (a failover), or the replicas did not confirm them (redis.waitReplicas); they are replayed when Redis takes them",
            clusterWide: false))
        conditions.append(AlertCondition(
            id: "redis-wait@\(process)", firing: replicationShortfallsPerMinute > 0,
            message: "\(process) saw \(replicationShortfallsPerMinute) writes in the last minute that fewer replicas than redis.waitReplicas confirmed within redis.waitTimeout: a failover now could lose them (deliveries among them stay in the spool until confirmed); check the replicas with INFO replication on the primary",
            clusterWide: false))
        conditions.append(AlertCondition(
            id: "redis-failover@\(process)", firing: failoversPerMinute > 0,
            message: "Sentinel switched the Redis primary (\(failoversPerMinute) in the last minute, seen by \(process)); wooqueue moved to the new primary. Find out why the old one failed; without redis.waitReplicas, writes it had not replicated are lost",
            clusterWide: false))
        conditions.append(AlertCondition(
            id: "spool-stuck@\(process)", firing: local.spoolStuck,
            message: "\(process) cannot replay its webhook spool although Redis answers: Redis refuses the writes (see the log; check maxmemory, a read-only replica, a failed AOF rewrite)",
            clusterWide: false))
        conditions.append(AlertCondition(
            id: "spool-quarantine@\(process)", firing: local.quarantinedBytes > 0,
            message: "\(process) moved \(local.quarantinedBytes) bytes of unreadable spool records to deliveries.quarantine in webhooks.spoolDirectory; inspect them (the log says why), then remove the file",
            clusterWide: false))
        conditions.append(AlertCondition(
            id: "overloaded@\(process)", firing: overloadedPerMinute > 0,
            message: "\(process) answered 503 to \(overloadedPerMinute) deliveries in the last minute because more than http.maxUnverifiedBytes of unverified bodies were being read at once; a flood of large or slow requests, or raise the limit",
            clusterWide: false))
        conditions.append(AlertCondition(
            id: "bad-signatures@\(process)", firing: badSignaturesPerMinute >= settings.badSignaturesPerMinute,
            message: "\(process) refused \(badSignaturesPerMinute) deliveries for their signature in the last minute (threshold \(settings.badSignaturesPerMinute)); check webhooks.secrets against WooCommerce, or someone is probing the endpoint",
            clusterWide: false))
        return conditions
    }
}
