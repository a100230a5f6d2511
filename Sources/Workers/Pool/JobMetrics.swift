import CoreMetrics
import QueueCore
import Synchronization

/// The worker pool's process metrics, through swift-metrics (so `serve` exports them on `/metrics`):
/// - `wooqueue_jobs_total{queue,type,outcome}`: outcomes written (`done`, `retried`, `dead`, `postponed` for a
///   dependency outage, `requeued` at shutdown);
/// - `wooqueue_job_duration_seconds{queue,type}`: handler time per job;
/// - `wooqueue_job_pickup_latency_seconds{queue}`: from due to started.
///
/// Types the registry does not know are counted as `unknown`, so junk in a queue cannot create series without
/// bound. Passes every report on to `next`.
final class JobMetrics: JobObserver {
    private let factory: any MetricsFactory
    private let knownTypes: Set<String>
    private let next: (any JobObserver)?
    private let outcomes = Mutex<[OutcomeKey: Counter]>([:])
    private let durations = Mutex<[TypeKey: Timer]>([:])
    private let pickups = Mutex<[String: Timer]>([:])

    private struct TypeKey: Hashable {
        let queue: String
        let type: String
    }

    private struct OutcomeKey: Hashable {
        let queue: String
        let type: String
        let outcome: Settlement.Kind
    }

    init(factory: any MetricsFactory, knownTypes: Set<String>, next: (any JobObserver)?) {
        self.factory = factory
        self.knownTypes = knownTypes
        self.next = next
    }

    func jobStarted(_ envelope: JobEnvelope, pickupLatency: Duration) {
        let timer = pickups.withLock { timers in
            if let timer = timers[envelope.queue] { return timer }
            let timer = Timer(label: ProcessMetric.pickupLatency.name, dimensions: [("queue", envelope.queue)], factory: factory)
            timers[envelope.queue] = timer
            return timer
        }
        timer.recordNanoseconds(pickupLatency.nanoseconds)
        next?.jobStarted(envelope, pickupLatency: pickupLatency)
    }

    func jobSettled(queue: String, type: String, outcome: Settlement.Kind, duration: Duration) {
        let label = knownTypes.contains(type) ? type : "unknown"
        let counter = outcomes.withLock { counters in
            let key = OutcomeKey(queue: queue, type: label, outcome: outcome)
            if let counter = counters[key] { return counter }
            let counter = Counter(label: ProcessMetric.jobs.name,
                                  dimensions: [("queue", queue), ("type", label), ("outcome", Self.name(of: outcome))], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
        // Jobs that did not run (split parts, requeued at shutdown) took no handler time of their own.
        if duration > .zero {
            let timer = durations.withLock { timers in
                let key = TypeKey(queue: queue, type: label)
                if let timer = timers[key] { return timer }
                let timer = Timer(label: ProcessMetric.jobDuration.name, dimensions: [("queue", queue), ("type", label)], factory: factory)
                timers[key] = timer
                return timer
            }
            timer.recordNanoseconds(duration.nanoseconds)
        }
        next?.jobSettled(queue: queue, type: type, outcome: outcome, duration: duration)
    }

    static func name(of outcome: Settlement.Kind) -> String {
        switch outcome {
        case .done: "done"
        case .retry: "retried"
        case .postpone: "postponed"
        case .dead: "dead"
        case .requeue: "requeued"
        }
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ attoseconds / 1_000_000_000
    }
}
