public import QueueCore

/// Hears about jobs as workers run them: for benchmarks and metrics.
public protocol JobObserver: Sendable {
    /// A worker started a job `pickupLatency` after it became due.
    func jobStarted(_ envelope: JobEnvelope, pickupLatency: Duration)
    /// A job's outcome was written to Redis.
    func jobSettled(queue: String, type: String, outcome: Settlement.Kind, duration: Duration)
}
