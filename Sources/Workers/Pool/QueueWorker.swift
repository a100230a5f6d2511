import ClientSupport
import Logging
import Parsing
import QueueCore
import Synchronization

/// One worker of a queue's pool: takes jobs from Redis, runs them one at a time, writes their outcomes.
///
/// A busy queue is read in batches (``QueueStore/fetch(queue:holder:max:workers:held:markProcessing:)``) and outcomes
/// are written in batches, so most jobs cost a fraction of a round trip; an idle worker waits in `BLMOVE` on its
/// own connection and starts a new job as soon as it arrives. Every job it holds is in its own active list until
/// its outcome is written; when a fetch fails in a way that may have moved jobs unseen, it gives back whatever
/// that list holds before fetching again.
final class QueueWorker: Sendable {
    let queue: QueueConfiguration.QueueSettings
    let store: QueueStore
    /// Names this worker's active list: `<process>.<index>`.
    let holder: String
    let registry: HandlerRegistry
    let settings: QueueConfiguration.WorkerSettings
    let backoff: BackoffPolicy
    let stop: StopState
    let slot: JobSlot
    let observer: (any JobObserver)?
    let flow: FlowControl
    let logger: Logger

    /// How long an idle worker blocks in `BLMOVE` before checking for shutdown.
    static let idleWait: Duration = .seconds(1)
    /// Outcomes are written once this many are waiting …
    static let settleBatch = 128
    /// … or once the oldest has waited this long.
    static let settleDelay: Duration = .milliseconds(20)

    /// Set when the active list may hold jobs this worker is not running: after a failed fetch, or outcomes it
    /// could not write. The next loop gives them back to the queue.
    private let mustReturnHeld = Atomic<Bool>(false)

    init(queue: QueueConfiguration.QueueSettings, store: QueueStore, holder: String, registry: HandlerRegistry,
         settings: QueueConfiguration.WorkerSettings, backoff: BackoffPolicy, stop: StopState, slot: JobSlot,
         observer: (any JobObserver)?, flow: FlowControl, logger: Logger) {
        self.queue = queue
        self.store = store
        self.holder = holder
        self.registry = registry
        self.settings = settings
        self.backoff = backoff
        self.stop = stop
        self.slot = slot
        self.observer = observer
        self.flow = flow
        self.logger = logger
    }

    /// How much work, in handler time, one fetch should take on: enough to amortise the round trips, little
    /// enough that slow jobs are not held by one worker while others (in this or another process) are idle.
    static let batchWorkTarget: Duration = .milliseconds(50)
    /// The same for a batch taken while a batch handler's call runs (``lookAhead(settling:limit:)``): its round
    /// trip and its reading overlap that call, and a larger call spreads the cost of its statements (an inventory
    /// call of 5 to 7 pages runs a 500-row statement and a small one). `bench inventory` with 4 bulk workers: 58,000
    /// rows/s at 50 ms, 67,000–75,000 at 150 ms.
    static let batchCallWorkTarget: Duration = .milliseconds(150)

    private func fetchLimit(_ pace: JobPace, target: Duration = batchWorkTarget) -> Int {
        pace.fetchLimit(target: target, max: max(settings.fetchBatch, registry.largestBatch))
    }

    /// Whether this worker may take more jobs now: not stopping, its queue not paused, and nothing in its active
    /// list it must give back first.
    private var mayTakeMore: Bool {
        !stop.isStopping && !flow.isPaused(queue: queue.name) && !mustReturnHeld.load(ordering: .relaxed)
    }

    /// Whether a job taken is marked `processing` (`workers.jobStatus`).
    private var marksProcessing: Bool { settings.jobStatus == .all }

    /// Runs until the process stops.
    func run() async {
        var outage = OutageBackoff()
        var pace = JobPace()
        /// What the last batch's ack-and-fetch, or its look-ahead, took; empty when it found the queue empty, nil when
        /// it did not fetch.
        var taken: [[UInt8]]?
        /// `taken` prepared and read ahead, when it was taken while the last batch's call ran.
        var takenAhead: [Prepared]?
        /// The last batch's outcomes, when its next batch was taken ahead: written with that batch's look-ahead, or
        /// before its first call (``process(_:ahead:carrying:fetchLimit:)``).
        var pending: [Finished] = []
        // Jobs taken with the last outcomes are given back by `process` even once the process is stopping, until the
        // grace period ends (Redis away): then they stay in the active list, for another process to recover.
        while !stop.isStopping || (taken?.isEmpty == false && !stop.isPastGrace) {
            do {
                // Only a batch taken ahead carries them on; anything else writes them first.
                if !pending.isEmpty, taken?.isEmpty != false || mustReturnHeld.load(ordering: .relaxed) { await settle(&pending) }
                if mustReturnHeld.load(ordering: .relaxed) {
                    let returned = try await store.returnHeld(queue: queue.name, holder: holder)
                    mustReturnHeld.store(false, ordering: .relaxed)
                    // Whatever the last call took is back in the queue now.
                    taken = nil
                    takenAhead = nil
                    if returned > 0 {
                        logger.warning("Gave back jobs this worker held but was not running", metadata: [
                            "queue": "\(queue.name)", "count": "\(returned)",
                        ])
                    }
                }
                let limit = fetchLimit(pace)
                var batch: [[UInt8]] = []
                var batchAhead: [Prepared]?
                if let carried = taken, !carried.isEmpty {
                    // Taken with the last outcomes: run them even if a pause came meanwhile (the batch gives them back).
                    batch = carried
                    batchAhead = takenAhead
                    taken = nil
                    takenAhead = nil
                } else if flow.isPaused(queue: queue.name) {
                    // Paused: take nothing; look again soon (the pause is read every quarter second).
                    taken = nil
                    try? await Task.sleep(for: FlowControl.viewInterval)
                    continue
                } else {
                    // An ack-and-fetch that found the queue empty goes straight to waiting.
                    if taken == nil { batch = try await store.fetch(queue: queue.name, holder: holder, max: limit, workers: queue.workers,
                                                                    markProcessing: marksProcessing) }
                    taken = nil
                }
                if batch.isEmpty {
                    guard let first = try await store.waitForJob(queue: queue.name, holder: holder, timeout: Self.idleWait) else {
                        outage.recovered(logger)
                        continue
                    }
                    // Mark the first job as processing (and give a coalescing one its latest payload); a burst
                    // usually follows its first job, so take the rest now too. If this fails, the error path below
                    // gives the first job back to the queue.
                    batch = try await store.fetch(queue: queue.name, holder: holder, max: limit - 1, workers: queue.workers, held: first,
                                                  markProcessing: marksProcessing)
                }
                outage.recovered(logger)
                let started = ContinuousClock.now
                var (ran, pause, unsettled, next) = await process(batch, ahead: batchAhead, carrying: pending,
                                                                    fetchLimit: fetchLimit(pace, target: Self.batchCallWorkTarget))
                pending = []
                pace.record(jobs: ran, took: started.duration(to: .now))
                if let next, !next.batch.isEmpty, pause == nil, !mustReturnHeld.load(ordering: .relaxed) {
                    // Taken ahead: its last call writes these outcomes (and it gives them back if the process stops).
                    taken = next.batch
                    takenAhead = next.prepared
                    pending = unsettled
                } else if let next {
                    // After an outage's pause, jobs taken ahead go back (after a failed call, the next loop gives back
                    // the whole active list).
                    if pause != nil, !mustReturnHeld.load(ordering: .relaxed) { unsettled += Self.requeues(next.batch) }
                    await settle(&unsettled)
                    taken = next.batch.isEmpty ? [] : nil
                } else if pause == nil, mayTakeMore {
                    // Busy: the last outcomes and the next batch in one round trip.
                    taken = await settle(&unsettled, thenFetch: fetchLimit(pace))
                } else {
                    await settle(&unsettled)
                }
                if let pause { try? await Task.sleep(for: pause) }
            } catch {
                // The call may have moved jobs whose reply never arrived.
                mustReturnHeld.store(true, ordering: .relaxed)
                if let dependency = error as? any DependencyError, dependency.isUnavailable {
                    await outage.wait(logger, error)
                } else {
                    logger.error("Fetching jobs failed", metadata: ["queue": "\(queue.name)", "error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        // Stopped past the grace period with a batch taken ahead: its jobs stay for recovery; try to write the rest.
        await settle(&pending)
    }

    // MARK: - Running a batch

    private struct Finished {
        var settlement: Settlement
        var type: String
        var duration: Duration
    }

    /// Runs the batch's jobs in order and writes their outcomes, but for the last ones, which it returns for the
    /// caller to write (with the next fetch, when the queue stays busy). Consecutive jobs of one batch handler run
    /// together in one call, and consecutive jobs of plain handlers that need not ask flow control in one task
    /// (``runSequence(_:)``). Returns how many ran, and a pause when a handler reported a dependency outage, so the
    /// worker does not take more jobs it cannot run.
    ///
    /// When the batch ends with a batch handler's call that asks no flow control, the outcomes so far are written,
    /// and up to `fetchLimit` next jobs taken and read ahead, while that call runs (``lookAhead(settling:limit:)``):
    /// the round trip and the reading of the next batch overlap the call, so a database statement follows the last
    /// one at once. Those jobs come back as `next`. `carrying`: the outcomes of the batch before, not written yet;
    /// they go with the first call's look-ahead, or are written before that call.
    private func process(_ batch: [[UInt8]], ahead: [Prepared]? = nil, carrying: [Finished] = [], fetchLimit: Int? = nil) async
        -> (ran: Int, pause: Duration?, unsettled: [Finished], next: Lookahead?) {
        var finished = carrying
        /// Whether `finished` still holds `carrying`: until the first call.
        var carries = !carrying.isEmpty
        var oldestFinish = ContinuousClock.now
        var next: Lookahead?
        var pause: Duration?
        var returnFrom: Int?
        /// Where the jobs to give back end: a slow limited call gives back the rest of the batch itself.
        var returnEnd = batch.count
        /// A limited call's end not yet told to Redis: it goes in the same round trip as the next admission.
        var pendingEnd: QueueStore.FlowCallEnd?
        var index = 0
        while index < batch.count {
            if stop.isStopping || pause != nil || flow.isPaused(queue: queue.name) {
                returnFrom = index
                break
            }
            let start = ContinuousClock.now
            let (group, gate, sequence) = prepareGroup(batch, ahead: ahead, from: index)
            let looksAhead = fetchLimit != nil && gate == nil && !sequence && index + group.count == batch.count
                && group.first.map(Self.isBatchCall) == true && mayTakeMore
            if carries {
                // The last batch's outcomes go with this batch's look-ahead; any other call could keep them waiting.
                if !looksAhead { await settle(&finished) }
                carries = false
            }
            var admitted: (gate: FlowGate, member: String)?
            if let gate {
                let end = pendingEnd
                pendingEnd = nil
                switch await admit(gate, group: group, after: end) {
                case nil:
                    // Redis did not answer: what the list still holds goes back at the next loop.
                    mustReturnHeld.store(true, ordering: .relaxed)
                    await settle(&finished)
                    return (index, nil, [], nil)
                case .parked(let reason, let until)?:
                    flow.parked(queue: queue.name, type: gate.type, reason: reason, until: until)
                    index += group.count
                    continue
                case .admitted(let member, _)?:
                    admitted = (gate, member)
                }
            } else if let end = pendingEnd {
                pendingEnd = nil
                await release(end)
            }
            var outcomes: [Outcome]
            var gaveBack = false
            if admitted != nil, index + group.count < batch.count {
                // A limited call still running after the batch's work target gives the rest of the batch back
                // meanwhile, so a slow call (an ERP at its limit) holds up no job behind it. Fast calls keep it.
                let rest = batch[(index + group.count)...]
                let handBack = HandBack()
                outcomes = await run(group, whenSlow: (Self.batchWorkTarget, { handBack.start { await self.giveBack(rest) } }))
                gaveBack = await handBack.finished()
                if gaveBack { returnEnd = index + group.count }
            } else if sequence {
                outcomes = await runSequence(group)
            } else if looksAhead, let fetchLimit {
                let settling = finished
                finished.removeAll()
                async let taken = lookAhead(settling: settling, limit: fetchLimit)
                outcomes = await run(group)
                next = await taken
            } else {
                outcomes = await run(group)
            }
            if let end = callEnd(outcomes, of: group, admitted: admitted) {
                // A limited call followed by another in this batch tells its end with the next admission.
                if admitted != nil, !gaveBack, index + group.count < batch.count, !stop.isStopping {
                    pendingEnd = end
                } else {
                    await release(end)
                }
            }
            // Interrupted by shutdown: that job goes back below, with the jobs not started yet.
            let interrupted = outcomes.firstIndex { $0.settlement.kind == .requeue }
            if finished.isEmpty { oldestFinish = start }
            let took = start.duration(to: .now)
            for outcome in outcomes[..<(interrupted ?? outcomes.count)] {
                finished.append(Finished(settlement: outcome.settlement, type: outcome.type, duration: outcome.duration ?? took / outcomes.count))
                // Right after their job: the settle script applies them only if it applied the job's outcome.
                finished += outcome.parts.map { Finished(settlement: $0, type: outcome.type, duration: .zero) }
                if let outagePause = outcome.pause { pause = outagePause }
            }
            if let interrupted {
                returnFrom = index + interrupted
                break
            }
            // A run of jobs may end before its last (``JobSlot/runSequence(timeouts:keepGoing:_:)``), or before its first
            // (stopping, paused): those not run go back.
            if outcomes.isEmpty {
                returnFrom = index
                break
            }
            index += outcomes.count
            if gaveBack {
                if let end = pendingEnd { await release(end) }
                await settle(&finished)
                return (index, pause, [], next)
            }
            // The batch's last outcomes are left to the caller, to go with the next fetch.
            if index < batch.count, finished.count >= Self.settleBatch || oldestFinish.duration(to: .now) >= Self.settleDelay {
                await settle(&finished)
            }
        }
        if let end = pendingEnd { await release(end) }
        if let returnFrom {
            // Back to the head of the queue, untouched. Each goes to the very head, so push the newest first:
            // the oldest ends up next in line again.
            finished += Self.requeues(batch[returnFrom..<returnEnd])
        }
        return (returnFrom ?? batch.count, pause, finished, next)
    }

    /// Whether a job runs in a batch handler's call.
    private static func isBatchCall(_ job: (raw: [UInt8], prepared: Prepared)) -> Bool {
        if case .runnable(_, let entry, _) = job.prepared { entry.batchHandler != nil } else { false }
    }

    /// Gives a held job back, untouched, to the head of its queue.
    private static func requeue(_ held: [UInt8]) -> Settlement {
        Settlement(kind: .requeue, id: JobEnvelope.id(of: held) ?? "", held: held, replacement: held)
    }

    /// Writes `settling` and takes up to `limit` next jobs in one round trip (only takes them when there is nothing
    /// to write), then prepares them and lets their batch handlers read them ahead. Runs beside a batch handler's
    /// call. Empty when the queue was empty; `nil` when Redis did not answer (the worker then gives back what its
    /// active list holds, as after any failed fetch).
    private func lookAhead(settling: [Finished], limit: Int) async -> Lookahead? {
        var settling = settling
        let taken: [[UInt8]]?
        if settling.isEmpty {
            do {
                taken = try await store.fetch(queue: queue.name, holder: holder, max: limit, workers: queue.workers, markProcessing: marksProcessing)
            } catch {
                mustReturnHeld.store(true, ordering: .relaxed)
                logger.warning("Fetching jobs ahead failed", metadata: ["queue": "\(queue.name)", "error": "\(error)"])
                return nil
            }
        } else {
            taken = await settle(&settling, thenFetch: limit)
        }
        guard let taken else { return nil }
        let prepared = taken.map { raw -> Prepared in
            let prepared = prepare(raw)
            guard case .runnable(let envelope, let entry, _) = prepared, let batchHandler = entry.batchHandler else { return prepared }
            return .runnable(envelope, entry, readAhead: batchHandler.readAhead(JobContext(envelope: envelope, logger: logger)))
        }
        return Lookahead(batch: taken, prepared: prepared)
    }

    /// Outcomes given back as requeues, newest first, so the oldest is next in line again.
    private static func requeues(_ held: some BidirectionalCollection<[UInt8]>) -> [Finished] {
        held.reversed().map { Finished(settlement: requeue($0), type: "", duration: .zero) }
    }

    /// A job read from its envelope: settled already (undecodable, unknown type, too many recoveries), or ready
    /// to run with its handler, with what a batch handler read of it ahead (``BatchJobHandler/readAhead(_:)``).
    private enum Prepared: Sendable {
        /// `taken`: the envelope, when it decoded, to count the job as taken when it is settled.
        case settled(Settlement, type: String, taken: JobEnvelope?)
        case runnable(JobEnvelope, HandlerRegistry.Entry, readAhead: (any Sendable)?)
    }

    /// The next batch, taken while the last call of the batch before it ran, each job prepared and read ahead.
    private struct Lookahead: Sendable {
        var batch: [[UInt8]]
        var prepared: [Prepared]
    }

    private struct Outcome {
        var settlement: Settlement
        var type: String
        var pause: Duration?
        /// What the call tells flow control, and the hold a dependency asked for.
        var flow: FlowOutcome = .none
        var retryAfter: Duration?
        /// Parts of a split job, each settled as a failed job of its own (``JobResult/split(_:)``).
        var parts: [Settlement] = []
        /// How long the job's own call took, when it ran alone; `nil` for a group's shared call.
        var duration: Duration?
    }

    /// What runs next from `index`: one job; the consecutive runnable jobs of one batch handler (up to its
    /// limit); or, when `sequence`, a run of consecutive jobs of plain handlers that need not ask flow control
    /// (up to ``settleBatch``), to go through ``JobSlot/runSequence(timeouts:keepGoing:_:)``. Only the jobs of the
    /// group are kept, so a group never reaches past a job that ends it (that one is read again as the next).
    /// Also returns the gates the group must pass first, if its type must ask (``FlowControl/gate(type:limits:envelope:)``).
    /// `ahead`: the batch's jobs prepared already, when it was taken ahead.
    private func prepareGroup(_ batch: [[UInt8]], ahead: [Prepared]?, from index: Int) -> (jobs: [(raw: [UInt8], prepared: Prepared)], gate: FlowGate?, sequence: Bool) {
        func prepare(_ position: Int) -> Prepared {
            if let ahead, ahead.indices.contains(position) { return ahead[position] }
            return self.prepare(batch[position])
        }
        let first = prepare(index)
        guard case .runnable(let envelope, let entry, _) = first else { return ([(batch[index], first)], nil, false) }
        let gate = flow.gate(type: envelope.type, limits: entry.flow, envelope: envelope)
        guard let batchHandler = entry.batchHandler else {
            guard gate == nil else { return ([(batch[index], first)], gate, false) }
            var run = [(batch[index], first)]
            var next = index + 1
            while next < batch.count, run.count < Self.settleBatch {
                let prepared = prepare(next)
                guard case .runnable(let nextEnvelope, let nextEntry, _) = prepared, nextEntry.batchHandler == nil,
                      flow.gate(type: nextEnvelope.type, limits: nextEntry.flow, envelope: nextEnvelope) == nil else { break }
                run.append((batch[next], prepared))
                next += 1
            }
            return (run, nil, true)
        }
        var group = [(batch[index], first)]
        var next = index + 1
        while next < batch.count, group.count < batchHandler.batchLimit,
              let type = JobEnvelope.type(of: batch[next]), let nextEntry = registry.entry(for: type), nextEntry.batchHandler === batchHandler {
            // A group is one call through flow control: it holds only jobs that pass the same gates (one type, and
            // one key for a per-key limit), and none that must ask when the first need not.
            if gate == nil ? flow.mustAsk(type: type, limits: nextEntry.flow) : type != envelope.type { break }
            let prepared = prepare(next)
            if let gate, case .runnable(let nextEnvelope, _, _) = prepared,
               FlowGate(type: type, limits: gate.limits, envelope: nextEnvelope) != gate { break }
            group.append((batch[next], prepared))
            next += 1
        }
        return (group, gate, false)
    }

    private func prepare(_ raw: [UInt8]) -> Prepared {
        let now = WallClock.nowMillis()
        let envelope: JobEnvelope
        do {
            envelope = try JobEnvelope(decoding: raw)
        } catch {
            return .settled(undecodable(raw, reason: "\(error)", now: now), type: "invalid", taken: nil)
        }
        let entry = registry.entry(for: envelope.type)
        if envelope.recoveries > settings.maxRecoveries {
            let reason = "recovered \(envelope.recoveries) times from dead workers (limit \(settings.maxRecoveries)): it may be what kills them"
            return .settled(deadLetter(raw, envelope, reason: reason, now: now), type: envelope.type, taken: envelope)
        }
        guard let entry else {
            let reason = "unknown job type \"\(envelope.type)\": no handler is configured for it (known: \(registry.types.joined(separator: ", "))); add it to jobTypes in config.json, then retry it from the dead-letter list"
            return .settled(deadLetter(raw, envelope, reason: reason, now: now), type: envelope.type, taken: envelope)
        }
        return .runnable(envelope, entry, readAhead: nil)
    }

    /// Runs a group from ``prepareGroup(_:from:)`` and decides each job's settlement. `whenSlow` goes to the slot
    /// (``JobSlot/run(timeout:whenSlow:_:)``).
    private func run(_ group: [(raw: [UInt8], prepared: Prepared)],
                     whenSlow: (after: Duration, action: @Sendable () -> Void)? = nil) async -> [Outcome] {
        var outcomes: [Outcome?] = Array(repeating: nil, count: group.count)
        var runnable: [(index: Int, raw: [UInt8], envelope: JobEnvelope, readAhead: (any Sendable)?)] = []
        var entry: HandlerRegistry.Entry?
        for (index, job) in group.enumerated() {
            switch job.prepared {
            case .settled(let settlement, let type, let taken):
                // Settled without running: taken now. A runnable job counts as started when it starts (flow
                // control may park it first).
                if let taken { reportTaken(taken) }
                outcomes[index] = Outcome(settlement: settlement, type: type)
            case .runnable(let envelope, let jobEntry, let readAhead):
                runnable.append((index, job.raw, envelope, readAhead))
                entry = jobEntry
            }
        }
        guard let entry, !runnable.isEmpty else { return outcomes.compactMap { $0 } }
        // Counted here, not when fetched: a job that flow control parks has not started.
        for job in runnable { reportTaken(job.envelope) }
        let contexts = runnable.map { JobContext(envelope: $0.envelope, logger: logger, readAhead: $0.readAhead) }
        let results = Mutex<[JobResult]?>(nil)
        let outcome: HandlerOutcome
        if let batchHandler = entry.batchHandler {
            outcome = await slot.run(timeout: entry.timeout, whenSlow: whenSlow) {
                let batchResults = try await batchHandler.handle(batch: contexts)
                precondition(batchResults.count == contexts.count, "a batch handler must return one result per job")
                results.withLock { $0 = batchResults }
            }
        } else {
            let handler = entry.handler
            outcome = await slot.run(timeout: entry.timeout, whenSlow: whenSlow) { try await handler.handle(contexts[0]) }
        }
        let perJob = results.withLock { $0 }
        for (position, job) in runnable.enumerated() {
            let jobOutcome: HandlerOutcome
            switch (outcome, perJob?[position]) {
            case (.succeeded, .failed(let failure)?): jobOutcome = .failed(failure)
            default: jobOutcome = outcome
            }
            var settled = settle(job.raw, job.envelope, jobOutcome)
            var parts: [Settlement] = []
            if case .succeeded = outcome {
                switch perJob?[position] {
                case .skipped(let reason)?:
                    settled.settlement.event = doneEvent(job.envelope, "skipped", at: WallClock.nowMillis(), note: reason)
                case .split(let failedParts)?:
                    parts = split(job.envelope, failedParts)
                    settled.settlement.event = doneEvent(
                        job.envelope, "split", at: WallClock.nowMillis(),
                        note: "\(failedParts.count) part(s) failed and continue as jobs of their own: \(failedParts.map(\.failure.message).first ?? "")")
                default: break
                }
            }
            outcomes[job.index] = Self.outcome(settled, type: job.envelope.type, of: outcome, parts: parts)
        }
        return outcomes.compactMap { $0 }
    }

    /// Runs a run of plain jobs from ``prepareGroup(_:from:)`` in one task (``JobSlot/runSequence(timeouts:keepGoing:_:)``)
    /// and decides each one's settlement. Returns the outcomes of the jobs that ran: the run stops before a job when
    /// the process stops or the queue is paused, and after a failure, so a failure's consequence (an outage's pause,
    /// a hold) is decided before the next job.
    private func runSequence(_ group: [(raw: [UInt8], prepared: Prepared)]) async -> [Outcome] {
        let jobs = group.map { job -> (raw: [UInt8], envelope: JobEnvelope, handler: any JobHandler, timeout: Duration) in
            guard case .runnable(let envelope, let entry, _) = job.prepared else {
                preconditionFailure("prepareGroup puts only runnable jobs in a run")
            }
            return (job.raw, envelope, entry.handler, entry.timeout)
        }
        let (logger, stop, flow, queueName) = (self.logger, self.stop, self.flow, queue.name)
        // A run also ends once it has lasted the settle delay, so its outcomes are written as often as others'.
        let began = ContinuousClock.now
        let keepGoing: @Sendable () -> Bool = {
            !stop.isStopping && !flow.isPaused(queue: queueName) && began.duration(to: .now) < Self.settleDelay
        }
        let calls = await slot.runSequence(timeouts: jobs.map(\.timeout), keepGoing: keepGoing) { index in
            let job = jobs[index]
            self.reportTaken(job.envelope)
            try await job.handler.handle(JobContext(envelope: job.envelope, logger: logger))
        }
        return zip(jobs, calls).map { job, call in
            Self.outcome(settle(job.raw, job.envelope, call.outcome), type: job.envelope.type, of: call.outcome, duration: call.duration)
        }
    }

    /// Tells the observer a job is taken now (it starts, or is settled without running), and how long it waited.
    private func reportTaken(_ envelope: JobEnvelope) {
        observer?.jobStarted(envelope, pickupLatency: .milliseconds(max(0, WallClock.nowMillis() - envelope.dueAt)))
    }

    /// A job's outcome: its settlement, and what its call tells flow control.
    private static func outcome(_ settled: (settlement: Settlement, pause: Duration?), type: String, of call: HandlerOutcome,
                                parts: [Settlement] = [], duration: Duration? = nil) -> Outcome {
        Outcome(settlement: settled.settlement, type: type, pause: settled.pause, flow: flowOutcome(of: call),
                retryAfter: failure(of: call)?.retryAfter, parts: parts, duration: duration)
    }

    /// The settlement of one job after its handler's outcome.
    private func settle(_ raw: [UInt8], _ envelope: JobEnvelope, _ outcome: HandlerOutcome) -> (settlement: Settlement, pause: Duration?) {
        let finishedAt = WallClock.nowMillis()
        switch outcome {
        case .succeeded:
            // `workers.events: "failures"` logs no plain success.
            let logged = settings.events == .all ? doneEvent(envelope, "done", at: finishedAt) : nil
            return (Settlement(kind: .done, id: envelope.id, held: raw, event: logged), nil)
        case .interrupted:
            return (Settlement(kind: .requeue, id: envelope.id, held: raw, replacement: raw), nil)
        case .timedOut(let timeout):
            return (failure(raw, envelope, JobFailure.transient("timed out after \(DurationText.format(timeout))"), now: finishedAt), nil)
        case .failed(let error):
            let failure = Self.classify(error)
            if failure.kind == .backPressure {
                // Waits out the hold the called system asked for, without counting an attempt.
                let hold = flow.holdDuration(failure.retryAfter ?? .seconds(1))
                var postponed = envelope
                postponed.runAt = finishedAt + hold.milliseconds
                postponed.lastError = failure.message
                var event = event(envelope, "postponed", "retry", at: finishedAt)
                event.error = failure.message
                return (Settlement(kind: .postpone, id: envelope.id, held: raw, replacement: postponed.encoded(), due: postponed.runAt, event: event), nil)
            }
            if failure.kind == .dependencyUnavailable {
                let delay = backoff.delay(afterFailure: 1)
                var postponed = envelope
                postponed.runAt = finishedAt + delay.milliseconds
                postponed.lastError = failure.message
                var event = event(envelope, "postponed", "retry", at: finishedAt)
                event.error = failure.message
                let settlement = Settlement(kind: .postpone, id: envelope.id, held: raw, replacement: postponed.encoded(),
                                            due: postponed.runAt, event: event)
                return (settlement, delay)
            }
            return (self.failure(raw, envelope, failure, now: finishedAt), nil)
        }
    }

    /// A failed attempt: retried with backoff while attempts remain, dead-lettered after that or when permanent.
    private func failure(_ raw: [UInt8], _ envelope: JobEnvelope, _ failure: JobFailure, now: Int64) -> Settlement {
        var failed = envelope
        failed.attempt += 1
        failed.firstError = failed.firstError ?? failure.message
        failed.lastError = failure.message
        failed.firstFailedAt = failed.firstFailedAt ?? now
        failed.lastFailedAt = now
        if failure.kind == .permanent || failed.attempt >= failed.maxAttempts {
            failed.deadAt = now
            failed.runAt = nil
            var event = event(failed, "dead", "failed", at: now)
            event.error = failure.kind == .permanent ? failure.message : "\(failure.message) (attempt \(failed.attempt) of \(failed.maxAttempts))"
            return Settlement(kind: .dead, id: envelope.id, held: raw, replacement: failed.encoded(), event: event)
        }
        failed.runAt = now + backoff.delay(afterFailure: failed.attempt).milliseconds
        var event = event(failed, "retry", "retry", at: now)
        event.error = failure.message
        return Settlement(kind: .retry, id: envelope.id, held: raw, replacement: failed.encoded(), due: failed.runAt, event: event)
    }

    /// The failed parts of a job as jobs of their own that have failed once: same type, queue, source and
    /// attempts allowed. They hold nothing in the active list (empty `held`): they come into being with their
    /// job's outcome.
    private func split(_ envelope: JobEnvelope, _ parts: [JobPart]) -> [Settlement] {
        let now = WallClock.nowMillis()
        return parts.map { part in
            let job = JobEnvelope(type: envelope.type, queue: envelope.queue, payload: part.payload, maxAttempts: envelope.maxAttempts,
                                  enqueuedAt: now, key: part.key, source: envelope.source)
            return failure([], job, part.failure, now: now)
        }
    }

    private func deadLetter(_ raw: [UInt8], _ envelope: JobEnvelope, reason: String, now: Int64) -> Settlement {
        self.failure(raw, envelope, .permanent(reason), now: now)
    }

    /// Bytes that are not an envelope: dead-lettered inside a new envelope that keeps them as text.
    private func undecodable(_ raw: [UInt8], reason: String, now: Int64) -> Settlement {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("raw", String(decoding: raw.prefix(65_536), as: UTF8.self))
        writer.endObject()
        var wrapper = JobEnvelope(type: "invalid", queue: queue.name, payload: writer.bytes, maxAttempts: 1, enqueuedAt: now)
        wrapper.attempt = 1
        wrapper.firstError = "envelope does not decode: \(reason)"
        wrapper.lastError = wrapper.firstError
        wrapper.firstFailedAt = now
        wrapper.lastFailedAt = now
        wrapper.deadAt = now
        var event = event(wrapper, "dead", "failed", at: now)
        event.error = wrapper.lastError
        return Settlement(kind: .dead, id: wrapper.id, held: raw, replacement: wrapper.encoded(), event: event)
    }

    private func event(_ envelope: JobEnvelope, _ name: String, _ status: String, at: Int64) -> JobEvent {
        JobEvent(at: at, id: envelope.id, type: envelope.type, queue: queue.name, key: envelope.key, event: name,
                 status: status, attempt: envelope.attempt, error: nil)
    }

    /// The event of a job that succeeded (`done`, or a batch handler's `skipped` or `split`, with `note`).
    private func doneEvent(_ envelope: JobEnvelope, _ name: String, at: Int64, note: String? = nil) -> JobEvent {
        var done = event(envelope, name, "done", at: at)
        done.attempt += 1  // the attempt that just succeeded
        done.error = note
        return done
    }

    /// Maps a handler's error to its failure class: ``JobFailure`` keeps its own, an unavailable Redis or
    /// PostgreSQL is an outage, anything else is transient.
    static func classify(_ error: any Error) -> JobFailure {
        switch error {
        case let failure as JobFailure: return failure
        case let dependency as any DependencyError where dependency.isUnavailable: return .dependencyUnavailable("\(dependency)")
        case is CancellationError: return .transient("cancelled")
        default: return .transient(String(describing: error))
        }
    }

    // MARK: - Flow control

    /// Asks Redis whether the group may start now, in the same round trip as the end of the call before it (`end`);
    /// `nil` when Redis did not answer.
    private func admit(_ gate: FlowGate, group: [(raw: [UInt8], prepared: Prepared)], after end: QueueStore.FlowCallEnd?) async -> FlowAdmission? {
        do {
            let admission: FlowAdmission
            if let end {
                let (released, admitted) = try await store.release(end, thenAdmit: gate, queue: queue.name, holder: holder, group: group.map(\.raw),
                                                                   leaseMillis: flow.leaseMillis, probeLeaseMillis: flow.probeLease(of: gate.type))
                flow.changed(queue: queue.name, type: end.gate.type, released.change, holdUntil: end.holdUntil)
                admission = admitted
            } else {
                admission = try await store.admit(queue: queue.name, holder: holder, gate: gate, group: group.map(\.raw),
                                                  leaseMillis: flow.leaseMillis, probeLeaseMillis: flow.probeLease(of: gate.type))
            }
            if case .admitted(let member, _) = admission { flow.hold(queue: queue.name, gate: gate, member: member) }
            return admission
        } catch {
            logger.warning("Could not ask whether a limited job may start; it goes back to its queue", metadata: [
                "queue": "\(queue.name)", "type": "\(gate.type)", "error": "\(error)",
            ])
            return nil
        }
    }

    /// Returns held jobs, untouched, to the head of the queue (the oldest next in line). If Redis does not answer,
    /// they may or may not have gone: the next loop gives back whatever the active list still holds.
    private func giveBack(_ held: ArraySlice<[UInt8]>) async {
        let settlements = held.reversed().map(Self.requeue)
        do {
            try await store.settle(queue: queue.name, holder: holder, settlements)
        } catch {
            mustReturnHeld.store(true, ordering: .relaxed)
        }
    }

    /// What a finished call tells flow control: the end of an admitted call, or a dependency's `Retry-After` for a
    /// type without limits; `nil` when there is nothing to tell. The call's lease stops being renewed here.
    private func callEnd(_ outcomes: [Outcome], of group: [(raw: [UInt8], prepared: Prepared)],
                         admitted: (gate: FlowGate, member: String)?) -> QueueStore.FlowCallEnd? {
        // An admitted call is one call; in a run of unlimited jobs, only a hold asks for anything.
        let position = admitted != nil ? outcomes.firstIndex { $0.flow != .none } : outcomes.firstIndex { $0.flow == .hold }
        let call = position.map { outcomes[$0] }
        let outcome = call?.flow ?? .none
        guard admitted != nil || outcome == .hold else { return nil }
        let holdUntil = outcome == .hold ? WallClock.nowMillis() + flow.holdDuration(call?.retryAfter ?? .seconds(1)).milliseconds : 0
        if let admitted {
            flow.drop(queue: queue.name, member: admitted.member)
            return QueueStore.FlowCallEnd(gate: admitted.gate, member: admitted.member, outcome: outcome, holdUntil: holdUntil,
                                          reserveMillis: flow.leaseMillis)
        }
        guard let position, group.indices.contains(position), case .runnable(let envelope, _, _) = group[position].prepared else { return nil }
        return QueueStore.FlowCallEnd(gate: FlowGate(type: envelope.type, limits: FlowLimits(), envelope: envelope), member: nil,
                                      outcome: outcome, holdUntil: holdUntil)
    }

    /// Tells Redis a call ended (frees its slot, counts it for the breaker, records a hold). One that does not get
    /// through leaves the slot to expire with its lease.
    private func release(_ end: QueueStore.FlowCallEnd) async {
        do {
            let released = try await store.release(end, queue: queue.name)
            flow.changed(queue: queue.name, type: end.gate.type, released.change, holdUntil: end.holdUntil)
        } catch {
            logger.warning("Could not end a limited call in Redis; its slot frees itself when its lease expires", metadata: [
                "queue": "\(queue.name)", "type": "\(end.gate.type)", "error": "\(error)",
            ])
        }
    }

    /// What a handler's outcome tells flow control: a success, a transient failure (counted by the breaker), a
    /// hold, or nothing (a permanent failure, an outage of our own dependencies, a shutdown).
    static func flowOutcome(of outcome: HandlerOutcome) -> FlowOutcome {
        switch outcome {
        case .succeeded: return .ok
        case .timedOut: return .fail
        case .interrupted: return .none
        case .failed(let error):
            switch classify(error).kind {
            case .transient: return .fail
            case .backPressure: return .hold
            case .permanent, .dependencyUnavailable: return .none
            }
        }
    }

    private static func failure(of outcome: HandlerOutcome) -> JobFailure? {
        if case .failed(let error) = outcome { return classify(error) }
        return nil
    }

    // MARK: - Writing outcomes

    /// Writes outcomes until Redis takes them. While Redis is away the jobs stay in the active list, so if this
    /// process dies meanwhile they are recovered. It gives up past the shutdown grace period, or after a few
    /// failures that are not an outage (a script error): the jobs then stay in the list and are given back to
    /// the queue by the next loop (or recovered), to run again.
    ///
    /// With `thenFetch`, the first try also takes up to that many next jobs in the same call (ack-and-fetch) and
    /// returns them (empty when the queue had none). If that try fails, it may have taken jobs unseen: the outcomes are
    /// written alone (writing one twice is harmless), and the next loop gives back what the active list holds. Returns
    /// nil when it fetched nothing: not asked to, or that try failed.
    @discardableResult
    private func settle(_ finished: inout [Finished], thenFetch limit: Int? = nil) async -> [[UInt8]]? {
        if finished.isEmpty { return nil }
        var outage = OutageBackoff()
        var otherFailures = 0
        var fetchLimit = limit
        while true {
            do {
                let stale: Int
                var taken: [[UInt8]]?
                if let fetchLimit {
                    (stale, taken) = try await store.settleAndFetch(queue: queue.name, holder: holder, finished.map(\.settlement), max: fetchLimit,
                                                                    workers: queue.workers, markProcessing: marksProcessing)
                } else {
                    stale = try await store.settle(queue: queue.name, holder: holder, finished.map(\.settlement))
                }
                if stale > 0 {
                    logger.notice("Some outcomes found their job no longer held: recovered by another process while it ran (it may run twice), or written by an earlier try",
                                  metadata: ["queue": "\(queue.name)", "count": "\(stale)"])
                }
                outage.recovered(logger)
                if let observer {
                    for job in finished { observer.jobSettled(queue: queue.name, type: job.type, outcome: job.settlement.kind, duration: job.duration) }
                }
                finished.removeAll(keepingCapacity: true)
                return taken
            } catch {
                if fetchLimit != nil {
                    mustReturnHeld.store(true, ordering: .relaxed)
                    fetchLimit = nil
                }
                let unavailable = (error as? any DependencyError)?.isUnavailable ?? false
                if !unavailable { otherFailures += 1 }
                if stop.isPastGrace || otherFailures >= 3 {
                    logger.error("Could not write job outcomes; the jobs stay in the active list and will run again",
                                 metadata: ["queue": "\(queue.name)", "count": "\(finished.count)", "error": "\(error)"])
                    mustReturnHeld.store(true, ordering: .relaxed)
                    finished.removeAll()
                    return nil
                }
                if unavailable { await outage.wait(logger, error) } else { try? await Task.sleep(for: .milliseconds(200)) }
            }
        }
    }
}

/// The average time a job of this worker takes, smoothed, to size its fetches.
struct JobPace {
    private var averageNanos: Double?

    mutating func record(jobs: Int, took: Duration) {
        guard jobs > 0 else { return }
        let (seconds, attoseconds) = took.components
        let perJob = (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(jobs)
        averageNanos = averageNanos.map { $0 * 0.7 + perJob * 0.3 } ?? perJob
    }

    /// Jobs to take so that running them takes about `target`; at least 1, at most `max`. Starts small.
    func fetchLimit(target: Duration, max: Int) -> Int {
        guard let averageNanos, averageNanos > 0 else { return min(max, 10) }
        let targetNanos = Double(target.milliseconds) * 1e6
        // Compared as doubles first: a tiny average would make the quotient too large for an Int.
        return Swift.max(1, Int(Swift.min(Double(max), (targetNanos / averageNanos).rounded(.down))))
    }
}

/// Backoff while Redis is unreachable: 100 ms doubling to 5 s, logging once per outage.
struct OutageBackoff {
    private var delay: Duration = .milliseconds(100)
    private var logged = false

    mutating func wait(_ logger: Logger, _ error: any Error) async {
        if !logged {
            logger.warning("Redis unavailable; waiting for it (no job loses an attempt)", metadata: ["error": "\(error)"])
            logged = true
        }
        try? await Task.sleep(for: delay)
        delay = min(delay * 2, .seconds(5))
    }

    mutating func recovered(_ logger: Logger) {
        if logged { logger.notice("Redis reachable again") }
        logged = false
        delay = .milliseconds(100)
    }
}

/// The giving back of a batch's rest while a slow call runs: started at most once, by the slot's watchdog, and
/// never once the worker has moved on (the watchdog may call after the call has ended).
final class HandBack: Sendable {
    private let state = Mutex<(task: Task<Void, Never>?, closed: Bool)>((nil, false))

    func start(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            guard !state.closed, state.task == nil else { return }
            state.task = Task { await body() }
        }
    }

    /// Closes it to late starts, then waits for the giving back if it started; true if it did.
    func finished() async -> Bool {
        guard let started = state.withLock({ state -> Task<Void, Never>? in
            state.closed = true
            return state.task
        }) else { return false }
        await started.value
        return true
    }
}
