import Synchronization

/// What a handler run ended with.
enum HandlerOutcome: Sendable {
    case succeeded
    case failed(any Error)
    /// Over the type's timeout; the handler was cancelled.
    case timedOut(Duration)
    /// Stopped by shutdown after the grace period; the job goes back to its queue.
    case interrupted
}

/// Resumes a waiting worker exactly once, with whichever outcome comes first: the handler's own, or the
/// watchdog's timeout or interruption.
final class OutcomeGate: Sendable {
    private let continuation: Mutex<CheckedContinuation<HandlerOutcome, Never>?>

    init(_ continuation: CheckedContinuation<HandlerOutcome, Never>) {
        self.continuation = Mutex(continuation)
    }

    /// Returns false when another outcome came first.
    @discardableResult
    func finish(_ outcome: HandlerOutcome) -> Bool {
        guard let continuation = continuation.withLock({ value -> CheckedContinuation<HandlerOutcome, Never>? in
            defer { value = nil }
            return value
        }) else { return false }
        continuation.resume(returning: outcome)
        return true
    }
}

/// The job one worker is running, watched by the process's watchdog.
///
/// The handler runs in a task of its own, so a timed-out or interrupted job frees the worker at once even if
/// the handler ignores cancellation (it is cancelled and left to finish on its own).
final class JobSlot: Sendable {
    private struct Running {
        let deadline: ContinuousClock.Instant
        let timeout: Duration
        /// Ends the worker's wait with this outcome and cancels the call, unless the wait has ended already.
        let end: @Sendable (HandlerOutcome) -> Void
        /// When the call counts as slow, and what to do then (once).
        var slowAt: ContinuousClock.Instant?
        var whenSlow: (@Sendable () -> Void)?
    }

    private let running = Mutex<Running?>(nil)

    /// Runs `handler` in its own task and waits for its outcome, or for the watchdog's. `whenSlow`, if given, is
    /// called once by the watchdog should the call run longer than its `after`.
    func run(timeout: Duration, whenSlow: (after: Duration, action: @Sendable () -> Void)? = nil,
             _ handler: @escaping @Sendable () async throws -> Void) async -> HandlerOutcome {
        let outcome = await withCheckedContinuation { continuation in
            let gate = OutcomeGate(continuation)
            let task = Task {
                do {
                    try await handler()
                    gate.finish(.succeeded)
                } catch {
                    gate.finish(.failed(error))
                }
            }
            let now = ContinuousClock.now
            running.withLock {
                $0 = Running(deadline: now + timeout, timeout: timeout, end: { outcome in
                    if gate.finish(outcome) { task.cancel() }
                }, slowAt: whenSlow.map { now + $0.after }, whenSlow: whenSlow?.action)
            }
        }
        running.withLock { $0 = nil }
        return outcome
    }

    /// Called by the watchdog: ends the running job if it is overdue, or if `interrupt` (grace period over); tells
    /// a slow one's `whenSlow`.
    func check(now: ContinuousClock.Instant, interrupt: Bool) {
        guard let (job, slow) = running.withLock({ running -> (Running, (@Sendable () -> Void)?)? in
            guard let job = running else { return nil }
            guard let slowAt = job.slowAt, now >= slowAt, let action = job.whenSlow else { return (job, nil) }
            running?.whenSlow = nil
            return (job, action)
        }) else { return }
        slow?()
        if interrupt {
            job.end(.interrupted)
        } else if now >= job.deadline {
            job.end(.timedOut(job.timeout))
        }
    }

    /// One call of ``runSequence(timeouts:keepGoing:_:)``: its outcome and how long it took.
    struct Call: Sendable {
        let outcome: HandlerOutcome
        let duration: Duration
    }

    /// Runs `timeouts.count` calls one after another in one task of their own, and waits for them: one task and one
    /// wake-up of the worker for a run of quick jobs, where ``run(timeout:whenSlow:_:)`` takes one of each per
    /// job. The watchdog watches each call with its own timeout, as it does a single call.
    ///
    /// The run ends early before a call when `keepGoing` says no, after a call that failed (so the worker decides
    /// what a failure means for the rest), and at a call the watchdog ends (timed out, interrupted), which is then
    /// the last call returned. Returns the calls made, in order: a prefix of those asked for.
    func runSequence(timeouts: [Duration], keepGoing: @escaping @Sendable () -> Bool,
                     _ call: @escaping @Sendable (Int) async throws -> Void) async -> [Call] {
        let calls = await withCheckedContinuation { continuation in
            let sequence = CallSequence(continuation)
            let task = Task {
                for index in timeouts.indices {
                    guard keepGoing(), let started = sequence.begin(index) else { break }
                    self.running.withLock {
                        $0 = Running(deadline: started + timeouts[index], timeout: timeouts[index], end: { outcome in
                            sequence.end(at: index, with: outcome, cancelling: true)
                        })
                    }
                    let outcome: HandlerOutcome
                    do {
                        try await call(index)
                        outcome = .succeeded
                    } catch {
                        outcome = .failed(error)
                    }
                    if case .failed = outcome {
                        sequence.end(at: index, with: outcome, cancelling: false)
                        return
                    }
                    // Ended meanwhile by the watchdog: the call's outcome is the watchdog's.
                    guard sequence.record(at: index, outcome) else { return }
                }
                sequence.finish()
            }
            sequence.attach(task)
        }
        running.withLock { $0 = nil }
        return calls
    }
}

/// The state of one ``JobSlot/runSequence(timeouts:keepGoing:_:)``: the calls made so far, the call running, and
/// the worker's wait, resumed exactly once. A call is started, recorded or ended only while the wait is open and
/// only at its own index, so a watchdog acting on a call that has just finished changes nothing.
private final class CallSequence: Sendable {
    private struct State {
        var calls: [JobSlot.Call] = []
        var callStarted = ContinuousClock.now
        var continuation: CheckedContinuation<[JobSlot.Call], Never>?
        var task: Task<Void, Never>?
    }

    private let state: Mutex<State>

    init(_ continuation: CheckedContinuation<[JobSlot.Call], Never>) {
        state = Mutex(State(continuation: continuation))
    }

    func attach(_ task: Task<Void, Never>) {
        let ended = state.withLock { state in
            state.task = task
            return state.continuation == nil
        }
        if ended { task.cancel() }
    }

    /// Marks call `index` started; nil when the run has ended.
    func begin(_ index: Int) -> ContinuousClock.Instant? {
        state.withLock { state in
            guard state.continuation != nil, state.calls.count == index else { return nil }
            state.callStarted = .now
            return state.callStarted
        }
    }

    /// Records call `index`'s outcome; false when the run ended meanwhile.
    func record(at index: Int, _ outcome: HandlerOutcome) -> Bool {
        state.withLock { state in
            guard state.continuation != nil, state.calls.count == index else { return false }
            state.calls.append(JobSlot.Call(outcome: outcome, duration: state.callStarted.duration(to: .now)))
            return true
        }
    }

    /// Ends the run with call `index`'s outcome, if that call is still the one running; `cancelling` (the
    /// watchdog's end) also cancels the task.
    func end(at index: Int, with outcome: HandlerOutcome, cancelling: Bool) {
        let ended = state.withLock { state -> (CheckedContinuation<[JobSlot.Call], Never>, [JobSlot.Call], Task<Void, Never>?)? in
            guard let continuation = state.continuation, state.calls.count == index else { return nil }
            state.calls.append(JobSlot.Call(outcome: outcome, duration: state.callStarted.duration(to: .now)))
            state.continuation = nil
            return (continuation, state.calls, state.task)
        }
        guard let (continuation, calls, task) = ended else { return }
        if cancelling { task?.cancel() }
        continuation.resume(returning: calls)
    }

    /// Ends the run with the calls recorded.
    func finish() {
        guard let (continuation, calls) = state.withLock({ state -> (CheckedContinuation<[JobSlot.Call], Never>, [JobSlot.Call])? in
            guard let continuation = state.continuation else { return nil }
            state.continuation = nil
            return (continuation, state.calls)
        }) else { return }
        continuation.resume(returning: calls)
    }
}
