import ClientSupport
import QueueCore

/// Writes accepted deliveries to Redis by group commit: while one batch is in flight, newly arriving deliveries
/// gather, and all of them go in the next round trip. So a burst of concurrent requests costs a few round trips,
/// not one per request, and deliveries keep their arrival order.
///
/// When Redis is unreachable, batches go to the ``DeliverySpool`` instead, and keep going there until the spool
/// has been replayed into Redis, so that deliveries for one product stay in order.
///
/// With `redis.waitReplicas`, a batch counts as accepted only once the replicas confirmed it (`WAIT`). A batch they
/// did not confirm in time goes to the spool too, although Redis has it: the spool keeps it until a replay's
/// `WAIT` succeeds. Its claims are marked as stored in the same round trip as the `WAIT`, so the replay does not
/// write the jobs again unless a failover lost them.
actor DeliveryCommitter {
    enum Outcome: Sendable, Equatable {
        /// Its jobs are in Redis (new, or merged into waiting ones).
        case accepted(jobs: Int)
        /// Redis is away; it is on disk and will be replayed.
        case spooled
        /// Its delivery id was seen within the retention: nothing enqueued.
        case duplicate
        /// Neither Redis nor the spool took it.
        case failed(String)
    }

    /// One delivery's writes.
    struct Work: Sendable {
        /// Identifies the delivery for de-duplication; `nil` for deliveries that are never repeated.
        var claim: QueueStore.DeliveryClaim?
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
    private let spool: DeliverySpool?
    private var pending: [Pending] = []
    /// True while a batch or a replay is being written: they never overlap.
    private var writing = false
    /// Whether the spool may hold records (checked at start, set when appending).
    private var spoolHasRecords = true
    /// Why the last replay failed although Redis answered `PING`; `nil` once one succeeds. A spool in this state
    /// is stuck: Redis refuses the writes (out of memory, a read-only replica) or the spool cannot be read, and a
    /// person must look.
    private(set) var stuckReason: String?
    /// No replay before this instant. After a failed replay the next ones back off (250 ms doubling to 30 s),
    /// rather than read the whole spool again at every batch and every tick.
    private var nextReplay = ContinuousClock.now
    private var replayBackoff = Duration.zero

    init(store: QueueStore, retention: Duration, spool: DeliverySpool?) {
        self.store = store
        self.retention = retention
        self.spool = spool
    }

    /// Waits until `work` is in Redis or the spool (or failed) and says how it went.
    func commit(_ work: Work) async -> Outcome {
        await withCheckedContinuation { continuation in
            pending.append(Pending(work: work, continuation: continuation))
            if !writing {
                writing = true
                Task { await self.flush() }
            }
        }
    }

    /// Replays the spool into Redis if it holds records and nothing else is being written; for a periodic task.
    /// Returns the bytes still waiting in the spool.
    func replayIfIdle() async -> Int {
        guard let spool else { return 0 }
        if !writing, spoolHasRecords {
            writing = true
            _ = await replay()
            if pending.isEmpty { writing = false } else { await flush() }
        }
        return (try? await spool.size()) ?? 0
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
        writing = false
    }

    private func write(_ batch: [Work]) async -> [Outcome] {
        if spoolHasRecords, !(await replay()) {
            return await toSpool(batch, states: nil)
        }
        var states: [QueueStore.ClaimState]?
        do {
            states = try await claim(batch)
            try await store(batch, states!)
            return zip(batch, states!).map { work, state in state == .repeated ? .duplicate : .accepted(jobs: work.jobs.count) }
        } catch let error as any DependencyError where error.isUnavailable && spool != nil {
            return await toSpool(batch, states: states)
        } catch is ReplicationShortfall where spool != nil {
            return await toSpool(batch, states: states)
        } catch {
            return batch.map { _ in .failed("\(error)") }
        }
    }

    /// Claims the batch's deliveries: what each found (repeats within the batch too).
    private func claim(_ batch: [Work]) async throws -> [QueueStore.ClaimState] {
        var found = try await store.claimDeliveries(batch.compactMap(\.claim), retention: retention).makeIterator()
        return batch.map { $0.claim == nil ? .new : found.next() ?? .new }
    }

    /// Writes the jobs of the deliveries claimed `.new`, in one pipeline per kind and in arrival order, then (with
    /// `redis.waitReplicas`) marks every written claim as stored and waits for the replicas.
    private func store(_ batch: [Work], _ states: [QueueStore.ClaimState]) async throws {
        let new = zip(batch, states).filter { $0.1 == .new }.map(\.0)
        try await store.enqueue(new.flatMap(\.jobs), waitForReplicas: false)
        try await store.deadLetter(new.compactMap(\.deadLetter))
        let written = zip(batch, states).filter { $0.1 != .repeated }.compactMap(\.0.claim)
        try await store.confirmDeliveries(written, retention: retention)
    }

    /// Appends the batch to the spool. `states` is set when the claims were answered before Redis failed: repeats
    /// are dropped. Every record keeps its claim; claiming it again on replay with the same token is harmless.
    private func toSpool(_ batch: [Work], states: [QueueStore.ClaimState]?) async -> [Outcome] {
        guard let spool else { return batch.map { _ in .failed("Redis is unavailable and no spool is configured") } }
        let kept = batch.indices.map { states?[$0] != .repeated }
        let records = batch.indices.filter { kept[$0] }.map { batch[$0] }
        do {
            try await spool.append(records)
            spoolHasRecords = true
            return kept.map { $0 ? .spooled : .duplicate }
        } catch {
            return batch.map { _ in .failed("\(error)") }
        }
    }

    /// Writes the spool's records to Redis in order, moves the ones that cannot be read to the quarantine, then
    /// empties it. False if Redis or the spool failed; the records then stay (a replay cut short may enqueue some
    /// jobs twice on the next try: delivery is at-least-once). Claims are made again with their own tokens, so a
    /// delivery already claimed (by the attempt that spooled it, or an earlier replay) passes, and only a true
    /// repeat is dropped.
    private func replay() async -> Bool {
        guard let spool else { return true }
        guard ContinuousClock.now >= nextReplay else { return false }
        // A cheap check before reading the whole spool: when Redis is away the spool is waiting, not stuck.
        guard await store.isReachable() else { return false }
        do {
            let contents = try await spool.readAll()
            if !contents.records.isEmpty {
                try await store(contents.records, try await claim(contents.records))
            }
            try await spool.quarantine(contents.unreadable)
            if !contents.records.isEmpty || !contents.unreadable.isEmpty { try await spool.truncate() }
            spoolHasRecords = false
            stuckReason = nil
            replayBackoff = .zero
            return true
        } catch {
            // A lost connection is an outage the spool waits out, and so are replicas that have not confirmed yet;
            // anything else, Redis having answered the PING (OOM, READONLY, an error reply, an unwritable spool),
            // needs a person.
            let waiting = (error as? any DependencyError)?.isConnectionLost == true || error is ReplicationShortfall
            stuckReason = waiting ? nil : "\(error)"
            replayBackoff = replayBackoff == .zero ? .milliseconds(250) : min(replayBackoff * 2, .seconds(30))
            nextReplay = .now + replayBackoff
            return false
        }
    }
}
