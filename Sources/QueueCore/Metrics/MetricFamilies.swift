public import CoreMetrics
import Synchronization

/// The metrics of one ``ProcessMetric``, one per set of label values, each created once: an event costs a
/// dictionary lookup, not a call into the metrics backend.
public final class MetricFamily<Metric: AnyObject & Sendable>: Sendable {
    private let labels: [String]
    private let make: @Sendable ([(String, String)]) -> Metric
    private let members = Mutex<[[String]: Metric]>([:])

    /// - Parameters:
    ///   - labels: the label names; the values are given in this order.
    ///   - make: creates the metric for a set of dimensions.
    init(labels: [String], make: @escaping @Sendable ([(String, String)]) -> Metric) {
        self.labels = labels
        self.make = make
    }

    /// The metric for these label values.
    func member(_ values: [String]) -> Metric {
        members.withLock { members in
            if let member = members[values] { return member }
            let member = make(Array(zip(labels, values)))
            members[values] = member
            return member
        }
    }
}

public typealias CounterFamily = MetricFamily<Counter>
public typealias TimerFamily = MetricFamily<Timer>

extension MetricFamily where Metric == Counter {
    public convenience init(_ metric: ProcessMetric, labels: [String], factory: any MetricsFactory) {
        self.init(labels: labels) { Counter(label: metric.name, dimensions: $0, factory: factory) }
    }

    public func increment(_ values: [String], by amount: Int = 1) {
        member(values).increment(by: amount)
    }
}

extension MetricFamily where Metric == Timer {
    public convenience init(_ metric: ProcessMetric, labels: [String], factory: any MetricsFactory) {
        self.init(labels: labels) { Timer(label: metric.name, dimensions: $0, factory: factory) }
    }

    public func record(_ values: [String], _ duration: Duration) {
        member(values).recordNanoseconds(duration.nanoseconds)
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
