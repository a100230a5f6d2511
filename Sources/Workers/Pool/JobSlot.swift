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
        let gate: OutcomeGate
        let task: Task<Void, Never>
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
                $0 = Running(deadline: now + timeout, timeout: timeout, gate: gate, task: task,
                             slowAt: whenSlow.map { now + $0.after }, whenSlow: whenSlow?.action)
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
            if job.gate.finish(.interrupted) { job.task.cancel() }
        } else if now >= job.deadline {
            if job.gate.finish(.timedOut(job.timeout)) { job.task.cancel() }
        }
    }
}
