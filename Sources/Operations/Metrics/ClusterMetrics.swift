public import Prometheus
public import QueueCore
import Routing

/// The cluster's queues as Prometheus gauges, read from Redis at every scrape, so any process's `/metrics` shows
/// the whole cluster, whichever process holds the jobs.
///
/// Gauges (one series per configured queue):
/// - `wooqueue_queue_jobs{queue,state}`: jobs `ready`, `active` (held by a worker), `delayed` (retries and
///   scheduled jobs) and `dead` (the dead-letter list);
/// - `wooqueue_queue_oldest_ready_age_seconds{queue}`: how long the next job has waited (0 when none waits);
/// - `wooqueue_queue_max_delay_seconds{queue}`: the most a job should wait there (the queue's `maxDelay`);
/// - `wooqueue_queue_live_workers{queue}`: workers of live processes serving it;
/// - `wooqueue_worker_processes{state}`: registered worker processes, `live` or `silent` (heartbeat overdue);
/// - `wooqueue_kept_deliveries`: webhook deliveries kept for review (the `webhooks` dead-letter list).
public final class ClusterMetrics: Sendable {
    /// Where the gauges live; process metrics can share it, so one scrape returns both.
    public let registry: PrometheusCollectorRegistry
    private let store: QueueStore
    private let queues: [QueueConfiguration.QueueSettings]
    private let perQueue: [QueueGauges]
    private let liveProcesses: Gauge
    private let silentProcesses: Gauge
    private let keptDeliveries: Gauge

    /// The states of `wooqueue_queue_jobs`, in the order they are written.
    public static let states = ["ready", "active", "delayed", "dead"]

    private struct QueueGauges {
        let jobs: [Gauge]  // by ``ClusterMetrics/states``
        let oldestReadyAge: Gauge
        let maxDelay: Gauge
        let liveWorkers: Gauge
    }

    public init(store: QueueStore, queues: [QueueConfiguration.QueueSettings],
                registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.store = store
        self.queues = queues
        func gauge(_ name: String, unit: String, _ labels: [(String, String)], help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "wooqueue", metricName: name, unitName: unit, helpText: help),
                               labels: labels)
        }
        perQueue = queues.map { queue in
            QueueGauges(
                jobs: Self.states.map {
                    gauge("queue_jobs", unit: "", [("queue", queue.name), ("state", $0)],
                          help: "Jobs in the queue by state: ready, active (held by a worker), delayed (retries, scheduled), dead (dead-letter list).")
                },
                oldestReadyAge: gauge("queue_oldest_ready_age", unit: "seconds", [("queue", queue.name)],
                                      help: "How long the job that runs next has waited; 0 when no job is ready."),
                maxDelay: gauge("queue_max_delay", unit: "seconds", [("queue", queue.name)],
                                help: "The longest a job should wait in the queue (its maxDelay)."),
                liveWorkers: gauge("queue_live_workers", unit: "", [("queue", queue.name)],
                                   help: "Workers of live worker processes serving the queue."))
        }
        let processesHelp = "Registered worker processes: live, or silent (heartbeat overdue, awaiting recovery)."
        liveProcesses = gauge("worker_processes", unit: "", [("state", "live")], help: processesHelp)
        silentProcesses = gauge("worker_processes", unit: "", [("state", "silent")], help: processesHelp)
        keptDeliveries = gauge("kept_deliveries", unit: "", [],
                               help: "Webhook deliveries kept for review (no route, or a body that does not fit its topic): no job was made of them.")
    }

    /// Reads the queues from Redis (one pipeline), sets the gauges, and returns the registry's text exposition.
    /// Throws when Redis is unreachable: a scrape must fail rather than report stale numbers.
    public func scrape() async throws -> [UInt8] {
        let snapshot = try await store.snapshot(queues: queues, latestEvents: 0)
        for (gauges, queue) in zip(perQueue, snapshot.queues) {
            for (gauge, count) in zip(gauges.jobs, [queue.ready, queue.active, queue.delayed, queue.dead]) {
                gauge.set(Int64(count))
            }
            gauges.oldestReadyAge.set(Double(queue.oldestReadyAgeMillis ?? 0) / 1000)
            gauges.maxDelay.set(Double(queue.maxDelayMillis) / 1000)
            let workers = snapshot.processes.filter(\.alive).reduce(0) { total, process in
                total + process.record.holders(of: queue.name).count
            }
            gauges.liveWorkers.set(Int64(workers))
        }
        let live = snapshot.processes.filter(\.alive).count
        liveProcesses.set(Int64(live))
        silentProcesses.set(Int64(snapshot.processes.count - live))
        keptDeliveries.set(Int64(try await store.deadLetterCount(queue: KeptDelivery.queue)))
        var text: [UInt8] = []
        registry.emit(into: &text)
        return text
    }
}
