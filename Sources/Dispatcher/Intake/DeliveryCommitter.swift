import QueueCore

/// Writes accepted deliveries to Redis by group commit: while one batch is in flight, newly arriving deliveries
/// gather, and all of them go in the next round trip. So a burst of concurrent requests costs a few round trips,
/// not one per request, and deliveries keep their arrival order.
actor DeliveryCommitter {
    enum Outcome: Sendable, Equatable {
        /// Its jobs are in Redis (new, or merged into waiting ones).
        case accepted(jobs: Int)
        /// Its delivery id was seen within the retention: nothing enqueued.
        case duplicate
        /// Redis did not take it.
        case failed(String)
    }

    /// One delivery's writes.
    struct Work: Sendable {
        var deliveryID: String?
        var jobs: [JobEnvelope]
        /// A delivery that cannot become jobs, kept for review instead.
        var deadLetter: JobEnvelope?
    }

    private struct Pending {
        let work: Work
        let continuation: CheckedContinuation<Outcome, Never>
    }

    private let store: QueueStore
    private let retention: Duration
    private var pending: [Pending] = []
    private var flushing = false

    init(store: QueueStore, retention: Duration) {
        self.store = store
        self.retention = retention
    }

    /// Waits until `work` is in Redis (or failed) and says how it went.
    func commit(_ work: Work) async -> Outcome {
        await withCheckedContinuation { continuation in
            pending.append(Pending(work: work, continuation: continuation))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    /// Commits batches until nothing is pending. The actor is re-entered while a batch is in flight, so
    /// deliveries that arrive meanwhile form the next batch.
    private func flush() async {
        while !pending.isEmpty {
            let batch = pending
            pending.removeAll()
            let outcomes = await write(batch.map(\.work))
            for (entry, outcome) in zip(batch, outcomes) { entry.continuation.resume(returning: outcome) }
        }
        flushing = false
    }

    private func write(_ batch: [Work]) async -> [Outcome] {
        do {
            // 1. Claim delivery ids: repeats (also within this batch) are dropped.
            let ids = batch.compactMap(\.deliveryID)
            var fresh = try await store.claimDeliveries(ids, retention: retention).makeIterator()
            let isNew = batch.map { $0.deliveryID == nil ? true : fresh.next() ?? true }
            // 2. Everything new in one pipeline per kind, in arrival order.
            let accepted = zip(batch, isNew).filter(\.1).map(\.0)
            let jobs = accepted.flatMap(\.jobs)
            try await store.enqueue(jobs)
            try await store.deadLetter(accepted.compactMap(\.deadLetter))
            return zip(batch, isNew).map { work, new in new ? .accepted(jobs: work.jobs.count) : .duplicate }
        } catch {
            return batch.map { _ in .failed("\(error)") }
        }
    }
}
