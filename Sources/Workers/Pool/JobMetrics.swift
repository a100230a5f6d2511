import CoreMetrics
import QueueCore

/// The worker pool's process metrics, through swift-metrics (so `serve` exports them on `/metrics`):
/// ``ProcessMetric/jobs`` by queue, type and outcome (`done`, `retried`, `dead`, `postponed` for a dependency
/// outage, `requeued` at shutdown, and `recovered` from a dead process, with an empty type: the recovering
/// process moves them unread), ``ProcessMetric/jobDuration`` by queue and type, and
/// ``ProcessMetric/pickupLatency`` by queue.
///
/// Types the registry does not know are counted as `unknown`, so junk in a queue cannot create series without
/// bound. Passes every report on to `next`.
final class JobMetrics: JobObserver {
    private let knownTypes: Set<String>
    private let next: (any JobObserver)?
    private let outcomes: CounterFamily
    private let durations: TimerFamily
    private let pickups: TimerFamily

    init(factory: any MetricsFactory, knownTypes: Set<String>, next: (any JobObserver)?) {
        self.knownTypes = knownTypes
        self.next = next
        outcomes = CounterFamily(.jobs, labels: ["queue", "type", "outcome"], factory: factory)
        durations = TimerFamily(.jobDuration, labels: ["queue", "type"], factory: factory)
        pickups = TimerFamily(.pickupLatency, labels: ["queue"], factory: factory)
    }

    func jobStarted(_ envelope: JobEnvelope, pickupLatency: Duration) {
        pickups.record([envelope.queue], pickupLatency)
        next?.jobStarted(envelope, pickupLatency: pickupLatency)
    }

    func jobSettled(queue: String, type: String, outcome: Settlement.Kind, duration: Duration) {
        let label = knownTypes.contains(type) ? type : "unknown"
        outcomes.increment([queue, label, Self.name(of: outcome)])
        // Jobs that did not run (split parts, requeued at shutdown) took no handler time of their own.
        if duration > .zero { durations.record([queue, label], duration) }
        next?.jobSettled(queue: queue, type: type, outcome: outcome, duration: duration)
    }

    /// Jobs this process returned to `queue` from a dead process.
    func jobsRecovered(queue: String, count: Int) {
        outcomes.increment([queue, "", "recovered"], by: count)
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
