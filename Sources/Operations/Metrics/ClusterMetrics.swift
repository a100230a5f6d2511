public import Prometheus
import Synchronization
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
/// - `wooqueue_kept_deliveries`: webhook deliveries kept for review (the `webhooks` dead-letter list);
/// - flow control, per queue and job type (limited types, and any type paused, held or with jobs waiting):
///   `wooqueue_flow_running` (calls running), `wooqueue_flow_limit` (its concurrency limit, 0 for none),
///   `wooqueue_flow_jobs{state}` (`waiting` for a slot or a resume, `throttled` until a token, hold or cool-down),
///   `wooqueue_flow_circuit` (0 closed, 1 half-open, 2 open), `wooqueue_flow_paused` (1 while paused; `type=""` is the
///   whole queue) and `wooqueue_flow_held_seconds` (what is left of a dependency's `Retry-After`).
public final class ClusterMetrics: Sendable {
    /// Where the gauges live; process metrics can share it, so one scrape returns both.
    public let registry: PrometheusCollectorRegistry
    private let store: QueueStore
    private let queues: [QueueConfiguration.QueueSettings]
    private let perQueue: [QueueGauges]
    private let liveProcesses: Gauge
    private let silentProcesses: Gauge
    private let keptDeliveries: Gauge
    private let jobTypes: [String: QueueConfiguration.JobTypeSettings]
    /// Flow gauges by name and labels, made on first use; each scrape zeroes those it does not set.
    private let flowGauges = Mutex<[FlowGaugeKey: Gauge]>([:])

    private struct FlowGaugeKey: Hashable {
        let name: String
        let labels: [String]
    }

    /// The states of `wooqueue_queue_jobs`, in the order they are written.
    public static let states = ["ready", "active", "delayed", "dead"]

    private struct QueueGauges {
        let jobs: [Gauge]  // by ``ClusterMetrics/states``
        let oldestReadyAge: Gauge
        let maxDelay: Gauge
        let liveWorkers: Gauge
    }

    public init(store: QueueStore, queues: [QueueConfiguration.QueueSettings], jobTypes: [String: QueueConfiguration.JobTypeSettings] = [:],
                registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.jobTypes = jobTypes
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
        let snapshot = try await store.snapshot(queues: queues, jobTypes: jobTypes, latestEvents: 0)
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
        setFlowGauges(snapshot)
        var text: [UInt8] = []
        registry.emit(into: &text)
        return text
    }

    private static let flowHelp: [String: String] = [
        "flow_running": "Calls of a limited job type running now, across every process.",
        "flow_limit": "The job type's concurrency limit (per key when it has a concurrencyKey); 0 for none.",
        "flow_jobs": "Jobs waiting in flow control: waiting (for a slot or a resume), throttled (until a token, a Retry-After hold or a circuit's cool-down).",
        "flow_circuit": "The job type's circuit: 0 closed, 1 half-open (a probe runs), 2 open.",
        "flow_paused": "1 while the job type (or, with type=\"\", the whole queue) is paused.",
        "flow_held_seconds": "Seconds left of the hold a dependency asked for with Retry-After.",
    ]

    private func setFlowGauges(_ snapshot: QueueSnapshot) {
        var values: [FlowGaugeKey: Double] = [:]
        for queue in snapshot.queues {
            values[FlowGaugeKey(name: "flow_paused", labels: [queue.name, ""])] = queue.flow.pausedUntil == nil ? 0 : 1
            for type in queue.flow.types {
                let labels = [queue.name, type.type]
                values[FlowGaugeKey(name: "flow_running", labels: labels)] = Double(type.running)
                values[FlowGaugeKey(name: "flow_limit", labels: labels)] = Double(type.limits.concurrency ?? 0)
                values[FlowGaugeKey(name: "flow_jobs", labels: labels + ["waiting"])] = Double(type.waiting)
                values[FlowGaugeKey(name: "flow_jobs", labels: labels + ["throttled"])] = Double(type.throttled)
                values[FlowGaugeKey(name: "flow_circuit", labels: labels)] = type.circuit == "open" ? 2 : type.circuit == "half-open" ? 1 : 0
                values[FlowGaugeKey(name: "flow_paused", labels: labels)] = type.pausedUntil == nil ? 0 : 1
                values[FlowGaugeKey(name: "flow_held_seconds", labels: labels)] = type.heldUntil.map { Double(max(0, $0 - queue.flow.now)) / 1000 } ?? 0
            }
        }
        flowGauges.withLock { gauges in
            for (key, gauge) in gauges where values[key] == nil { gauge.set(Double(0)) }
            for (key, value) in values {
                let gauge = gauges[key] ?? {
                    let names = ["queue", "type", "state"]
                    let made = registry.makeGauge(
                        descriptor: MetricNameDescriptor(namespace: "wooqueue", metricName: key.name, unitName: "", helpText: Self.flowHelp[key.name] ?? ""),
                        labels: Array(zip(names, key.labels)).map { ($0.0, $0.1) })
                    gauges[key] = made
                    return made
                }()
                gauge.set(value)
            }
        }
    }
}
