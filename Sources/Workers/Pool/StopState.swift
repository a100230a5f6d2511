import Synchronization

/// A worker process's shutdown state, shared by its workers and background loops.
final class StopState: Sendable {
    private let stopping = Atomic<Bool>(false)
    /// Monotonic time in ms (``ContinuousClock``) after which in-flight jobs are interrupted; `Int64.max` until stopping.
    private let graceEndsAt = Atomic<Int64>(Int64.max)

    /// Stops fetching; in-flight jobs may finish within `grace`.
    func begin(grace: Duration) {
        if stopping.exchange(true, ordering: .acquiringAndReleasing) { return }
        graceEndsAt.store(Self.monotonicMillis() + grace.milliseconds, ordering: .releasing)
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// True once the grace period is over: running jobs are interrupted and returned to their queues.
    var isPastGrace: Bool { Self.monotonicMillis() >= graceEndsAt.load(ordering: .acquiring) }

    static func monotonicMillis() -> Int64 {
        ContinuousClock.now.duration(to: ContinuousClock.Instant.origin).milliseconds * -1
    }
}

extension ContinuousClock.Instant {
    /// A fixed reference point for converting instants to plain numbers.
    static let origin = ContinuousClock.now
}
