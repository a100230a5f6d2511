import CoreMetrics
import Synchronization

/// The counters of one ``ProcessMetric``, one per set of label values, each created once: an event costs a
/// dictionary lookup, not a call into the metrics backend.
public final class CounterFamily: Sendable {
    private let metric: ProcessMetric
    private let labels: [String]
    private let factory: any MetricsFactory
    private let counters = Mutex<[[String]: Counter]>([:])

    /// - Parameter labels: the label names; ``increment(_:by:)`` gets their values in this order.
    public init(_ metric: ProcessMetric, labels: [String], factory: any MetricsFactory) {
        self.metric = metric
        self.labels = labels
        self.factory = factory
    }

    public func increment(_ values: [String], by amount: Int = 1) {
        let counter = counters.withLock { counters in
            if let counter = counters[values] { return counter }
            let counter = Counter(label: metric.name, dimensions: Array(zip(labels, values)), factory: factory)
            counters[values] = counter
            return counter
        }
        counter.increment(by: amount)
    }
}

/// The timers (histograms) of one ``ProcessMetric``, one per set of label values, each created once.
public final class TimerFamily: Sendable {
    private let metric: ProcessMetric
    private let labels: [String]
    private let factory: any MetricsFactory
    private let timers = Mutex<[[String]: Timer]>([:])

    public init(_ metric: ProcessMetric, labels: [String], factory: any MetricsFactory) {
        self.metric = metric
        self.labels = labels
        self.factory = factory
    }

    public func record(_ values: [String], _ duration: Duration) {
        let timer = timers.withLock { timers in
            if let timer = timers[values] { return timer }
            let timer = Timer(label: metric.name, dimensions: Array(zip(labels, values)), factory: factory)
            timers[values] = timer
            return timer
        }
        timer.recordNanoseconds(duration.nanoseconds)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ attoseconds / 1_000_000_000
    }
}
