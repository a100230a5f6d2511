import CoreMetrics
import Logging
public import RedisClient
import Synchronization

/// `redis.waitReplicas` and `redis.waitTimeout`: after a write, wait with Redis's `WAIT` until this many replicas
/// have it, for at most `timeout`. Redis replicates asynchronously, so without this a write the primary
/// acknowledged can vanish in a failover.
public struct ReplicationWait: Sendable, Equatable {
    public var replicas: Int
    public var timeout: Duration

    public init(replicas: Int, timeout: Duration) {
        self.replicas = replicas
        self.timeout = timeout
    }

    /// `WAIT`, sent on the connection that wrote, in the same pipeline as the write: it covers every write that
    /// connection made before it, and costs no round trip of its own.
    var command: RedisRequest { .command(RedisCommand("WAIT", String(replicas), String(max(timeout.milliseconds, 1)))) }

    /// Reads `WAIT`'s reply (the replicas that confirmed); records a shortfall and returns it, or `nil`.
    func check(_ reply: RedisValue?, operation: String) throws -> ReplicationShortfall? {
        guard let reply else { return nil }
        let confirmed = try reply.checked().int ?? 0
        guard confirmed < replicas else { return nil }
        let shortfall = ReplicationShortfall(operation: operation, confirmed: confirmed, wanted: replicas, timeout: timeout)
        RedisHealth.record(shortfall)
        return shortfall
    }
}

/// Redis took a write, but fewer replicas than `redis.waitReplicas` confirmed it within `redis.waitTimeout`: it
/// would be lost if the primary failed now. Not an outage (the write is there); the caller decides what it means.
public struct ReplicationShortfall: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let confirmed: Int
    public let wanted: Int
    public let timeout: Duration

    public var description: String {
        """
        Redis took the \(operation), but only \(confirmed) of the \(wanted) replicas redis.waitReplicas asks for confirmed it \
        within redis.waitTimeout (\(timeout)): a failover now could lose it. Check the replicas (INFO replication on the \
        primary), or lower redis.waitReplicas
        """
    }
}

/// What this process saw of Redis's replication and failovers: counted, exported as metrics, logged
/// (at most one line per kind every 10 s, with the count since the last).
public enum RedisHealth {
    private static let shortfalls = Atomic<Int>(0)
    private static let log = Mutex<(last: ContinuousClock.Instant?, unlogged: Int)>((nil, 0))
    private static let failoversReported = Mutex(0)
    private static let logger = Logger(label: "wooqueue.redis")

    /// Writes whose `WAIT` timed out since the process started.
    public static var replicationShortfalls: Int { shortfalls.load(ordering: .relaxed) }

    /// Switches of the primary Sentinel announced since the process started.
    public static var failovers: Int { SentinelWatch.failoversSeen }

    /// Logs and counts the failovers Sentinel announced since the last call; the heartbeat calls it.
    public static func reportFailovers() {
        let seen = SentinelWatch.failoversSeen
        let new = failoversReported.withLock { reported in
            defer { reported = seen }
            return seen - reported
        }
        guard new > 0 else { return }
        Counter(label: ProcessMetric.failovers.name).increment(by: new)
        logger.warning("Sentinel switched the Redis primary; connections moved to the new one", metadata: [
            "event": "redis-failover", "switches": "\(new)", "announcement": "\(SentinelWatch.latestFailover)",
        ])
    }

    static func record(_ shortfall: ReplicationShortfall) {
        shortfalls.add(1, ordering: .relaxed)
        Counter(label: ProcessMetric.replicationShortfalls.name, dimensions: [("operation", shortfall.operation)]).increment()
        let unlogged: Int? = log.withLock { state in
            state.unlogged += 1
            let now = ContinuousClock.now
            if let last = state.last, now - last < .seconds(10) { return nil }
            defer { state = (now, 0) }
            return state.unlogged
        }
        if let unlogged {
            logger.warning("A write was not confirmed by enough replicas in time", metadata: [
                "event": "redis-wait-timeout", "operation": "\(shortfall.operation)", "confirmed": "\(shortfall.confirmed)",
                "wanted": "\(shortfall.wanted)", "since-last-log": "\(unlogged)", "hint": "\(shortfall)",
            ])
        }
    }
}

extension ProcessMetric {
    /// Writes whose `WAIT` for `redis.waitReplicas` timed out, by `operation`.
    public static let replicationShortfalls = ProcessMetric(
        name: "wooqueue_redis_wait_timeouts_total",
        help: "Writes (enqueue, settle, delivery) that fewer replicas than redis.waitReplicas confirmed within redis.waitTimeout: not yet safe from a failover. Deliveries among them were spooled.")
    /// Switches of the Redis primary announced by Sentinel.
    public static let failovers = ProcessMetric(
        name: "wooqueue_redis_failovers_total", help: "Switches of the Redis primary that Sentinel announced (+switch-master) to this process.")

    /// Redis's health as this process saw it, for the exporter.
    public static let redis: [ProcessMetric] = [replicationShortfalls, failovers]
}
