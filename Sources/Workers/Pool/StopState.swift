import Synchronization

/// A worker process's shutdown state, shared by its workers and background loops.
final class StopState: Sendable {
    private let stopping = Atomic<Bool>(false)
    /// When in-flight jobs are interrupted; `nil` until stopping.
    private let graceEnds = Mutex<ContinuousClock.Instant?>(nil)

    /// Stops fetching; in-flight jobs may finish within `grace`.
    func begin(grace: Duration) {
        if stopping.exchange(true, ordering: .acquiringAndReleasing) { return }
        graceEnds.withLock { $0 = .now + grace }
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// True once the grace period is over: running jobs are interrupted and returned to their queues.
    var isPastGrace: Bool { graceEnds.withLock { $0.map { ContinuousClock.now >= $0 } ?? false } }
}
