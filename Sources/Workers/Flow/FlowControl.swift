public import CoreMetrics
import Foundation
public import Logging
public import QueueCore
import Synchronization

/// A worker process's side of flow control: which calls must ask Redis before they start, the slot leases this
/// process holds, and the loops that keep its view fresh and start waiting jobs.
///
/// A call must ask (``gate(type:limits:envelope:)``) when its type has a limit or a breaker, or when the type or
/// its queue is paused, held by a dependency's `Retry-After`, or has a circuit not closed. The last four are read
/// from Redis every ``viewInterval``, so every process stops starting a paused type within that time (plus the call
/// it may be starting); while nothing is paused, held or open, a job of a type without limits costs two atomic
/// loads here.
public final class FlowControl: Sendable {
    /// How often the paused, held and open types are read from Redis.
    public static let viewInterval: Duration = .milliseconds(250)
    /// The longest the sweep sleeps: waiting jobs whose lease expired, or whose pause ended, start within this.
    static let sweepInterval: Duration = .seconds(1)
    /// How long after a hold or a timed pause ends a type still asks Redis: clocks of hosts differ a little.
    static let clockMargin: Int64 = 10_000

    /// What the process knows of the paused, held and open state.
    struct View: Sendable {
        var pausedQueues: Set<String> = []
        var closedTypes: Set<String> = []
    }

    let limits: [String: FlowLimits]
    let store: QueueStore
    let queues: [String]
    /// Slot leases last this long unless renewed: the process timeout, so a dead process frees its slots when
    /// its jobs are recovered.
    let leaseMillis: Int64
    /// The longest a `Retry-After` holds a type.
    let maxRetryAfter: Duration
    private let probeLeases: [String: Int64]
    private let view = Mutex(View())
    /// How many queues are paused and types closed in ``view``: while 0, nothing is read under the lock.
    private let closures = Atomic<Int>(0)
    private let leases = Mutex<[String: [String: [String]]]>([:])
    /// When the sweep should next run, as milliseconds of the wall clock.
    private let nextSweep = Atomic<Int64>(0)
    /// When the jobs this process parked until a time are due, soonest first: it sweeps at each, so they start on
    /// time. Jobs other processes parked start at their own sweeps, or at this one's within a second.
    private let dues = Mutex<[Int64]>([])
    /// The most due times remembered; past it, the sweep follows the next due time Redis reports instead.
    static let duesKept = 10_000
    private let parked: CounterFamily
    private let changes: CounterFamily
    let logger: Logger

    /// - Parameters:
    ///   - configuration: the types' limits, the process timeout (slot leases), `maxRetryAfter`.
    ///   - store: a connection of flow control's own.
    ///   - queues: the queues this process runs.
    public init(configuration: QueueConfiguration, store: QueueStore, queues: [String], metrics: any MetricsFactory = MetricsSystem.factory,
                logger: Logger) {
        limits = configuration.jobTypes.compactMapValues { $0.flow.isEmpty ? nil : $0.flow }
        self.store = store
        self.queues = queues
        leaseMillis = configuration.workers.processTimeout.milliseconds
        maxRetryAfter = configuration.workers.maxRetryAfter
        // A probe that outlives its type's timeout and a heartbeat has died with its process: another job probes.
        probeLeases = configuration.jobTypes.mapValues { $0.timeout.milliseconds + configuration.workers.processTimeout.milliseconds }
        parked = CounterFamily(.flowParked, labels: ["queue", "type", "reason"], factory: metrics)
        changes = CounterFamily(.flowChanges, labels: ["queue", "type", "change"], factory: metrics)
        self.logger = logger
    }

    // MARK: - Deciding

    /// True while `queue` is paused as a whole: its workers take nothing.
    func isPaused(queue: String) -> Bool {
        guard closures.load(ordering: .relaxed) > 0 else { return false }
        return view.withLock { $0.pausedQueues.contains(queue) }
    }

    /// True when a call of `type` (whose configured limits are `limits`) must ask Redis before it starts.
    func mustAsk(type: String, limits: FlowLimits) -> Bool {
        !limits.isEmpty || (closures.load(ordering: .relaxed) > 0 && view.withLock { $0.closedTypes.contains(type) })
    }

    /// The gates a call of `type` must pass, or `nil` when it may start without asking.
    func gate(type: String, limits: FlowLimits, envelope: JobEnvelope) -> FlowGate? {
        mustAsk(type: type, limits: limits) ? FlowGate(type: type, limits: limits, envelope: envelope) : nil
    }

    func probeLease(of type: String) -> Int64 { probeLeases[type] ?? leaseMillis }

    // MARK: - Leases

    /// Remembers a lease to renew with each heartbeat.
    func hold(queue: String, gate: FlowGate, member: String) {
        leases.withLock { $0[queue, default: [:]][member] = QueueStore.leaseKeys(of: gate) }
    }

    func drop(queue: String, member: String) {
        _ = leases.withLock { $0[queue]?.removeValue(forKey: member) }
    }

    /// Extends every lease this process holds; called with its heartbeat.
    func renewLeases() async throws {
        let held = leases.withLock { leases in
            leases.mapValues { byMember in byMember.flatMap { member, keys in keys.map { (key: $0, member: member) } } }
        }
        try await store.renewLeases(held, leaseMillis: leaseMillis)
    }

    // MARK: - Reporting

    /// A call that was parked: counted, and the sweep wakes when it is due.
    func parked(queue: String, type: String, reason: String, until: Int64?) {
        parked.increment([queue, type, reason])
        guard let until else { return }
        dues.withLock { dues in
            guard dues.count < Self.duesKept else { return }
            // Binary search for the first due after `until`.
            var low = 0, high = dues.count
            while low < high {
                let middle = (low + high) / 2
                if dues[middle] <= until { low = middle + 1 } else { high = middle }
            }
            if low == 0 || dues[low - 1] != until { dues.insert(until, at: low) }
        }
        sweep(at: until)
    }

    /// What a release changed: logged as an event, counted, and seen by this process at once.
    func changed(queue: String, type: String, _ change: String, holdUntil: Int64 = 0) {
        guard !change.isEmpty else { return }
        changes.increment([queue, type, change])
        var metadata: Logger.Metadata = ["event": "flow-\(change)", "queue": "\(queue)", "type": "\(type)"]
        switch change {
        case "opened":
            metadata["coolDown"] = "\(DurationText.format(limits[type]?.breaker?.coolDown ?? .zero))"
            logger.warning("Circuit opened: the type's calls keep failing; none starts until the cool-down is over, then one probes", metadata: metadata)
        case "closed":
            logger.notice("Circuit closed: the probe succeeded; the type's jobs run again", metadata: metadata)
        case "held":
            metadata["until"] = "\(holdUntil)"
            logger.warning("The dependency asked to wait (Retry-After): the type's jobs are held, without losing attempts", metadata: metadata)
        default:
            logger.notice("Flow state changed", metadata: metadata)
        }
        if change != "closed" {
            let count = view.withLock { view in
                view.closedTypes.insert(type)
                return view.closedTypes.count + view.pausedQueues.count
            }
            closures.store(count, ordering: .relaxed)
        }
    }

    /// The longest hold a dependency may ask for.
    func holdDuration(_ retryAfter: Duration) -> Duration {
        min(max(retryAfter, .seconds(1)), maxRetryAfter)
    }

    // MARK: - Loops

    /// Reads the paused, held and open types every ``viewInterval`` and runs the sweep when due, until cancelled.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.refreshView() }
            group.addTask { await self.runSweeps() }
        }
    }

    private func refreshView() async {
        var failed = false
        while !Task.isCancelled {
            do {
                let view = try await readView()
                self.view.withLock { $0 = view }
                closures.store(view.pausedQueues.count + view.closedTypes.count, ordering: .relaxed)
                failed = false
            } catch {
                if !failed { logger.warning("Could not read the flow state; keeping the last one", metadata: ["error": "\(error)"]) }
                failed = true
            }
            try? await Task.sleep(for: Self.viewInterval)
        }
    }

    private func readView() async throws -> View {
        let now = WallClock.nowMillis()
        var view = View()
        for (queue, paused, state) in try await store.flowFields(queues: queues) {
            for (name, until) in paused {
                let end = Int64(until) ?? 0
                if name == "*" {
                    // Read here alone (a queue's workers do not ask Redis), so it ends on time.
                    if until == "0" || end > now { view.pausedQueues.insert(queue) }
                } else if until == "0" || end > now - Self.clockMargin {
                    view.closedTypes.insert(name)
                }
            }
            for (field, value) in state {
                guard let colon = field.lastIndex(of: ":") else { continue }
                let type = String(field[..<colon])
                switch field[field.index(after: colon)...] {
                case "circuit": view.closedTypes.insert(type)
                case "held" where (Int64(value) ?? 0) > now - Self.clockMargin: view.closedTypes.insert(type)
                default: break
                }
            }
        }
        return view
    }

    /// Asks the sweep to run by `millis` (wall clock).
    func sweep(at millis: Int64) {
        var current = nextSweep.load(ordering: .relaxed)
        while millis < current {
            let (exchanged, original) = nextSweep.compareExchange(expected: current, desired: millis, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    private func runSweeps() async {
        var failed = false
        while !Task.isCancelled {
            let now = WallClock.nowMillis()
            nextSweep.store(now + Self.sweepInterval.milliseconds, ordering: .relaxed)
            do {
                let swept = try await store.sweepFlow(queues: queues, limits: limits, reserveMillis: leaseMillis)
                let (ownNext, full) = dues.withLock { dues -> (Int64?, Bool) in
                    let full = dues.count >= Self.duesKept
                    dues.removeAll { $0 <= now }
                    return (dues.first, full)
                }
                if let ownNext { sweep(at: ownNext) }
                if full, let due = swept.nextDue { sweep(at: due) }
                failed = false
            } catch {
                if !failed { logger.warning("Could not start waiting jobs; trying again", metadata: ["error": "\(error)"]) }
                failed = true
            }
            // Sleep until the next due time, in steps so an earlier one asked for meanwhile is not missed: short
            // ones (10 ms) while this process has parked jobs waiting for a time, 100 ms otherwise.
            while !Task.isCancelled {
                let left = nextSweep.load(ordering: .relaxed) - WallClock.nowMillis()
                if left <= 0 { break }
                let step: Int64 = dues.withLock { $0.isEmpty } ? 100 : 10
                try? await Task.sleep(for: .milliseconds(min(left, step)))
            }
        }
    }
}

extension ProcessMetric {
    /// Calls that could not start yet, by `queue`, `type` and `reason`.
    public static let flowParked = ProcessMetric(
        name: "wooqueue_flow_parked_total",
        help: "Calls of a limited, paused or held job type that could not start yet and wait in Redis, by reason: waiting (no free slot), throttled (no token), paused, held (Retry-After), open or probing (circuit breaker).")
    /// Circuit and hold changes, by `queue`, `type` and `change`.
    public static let flowChanges = ProcessMetric(
        name: "wooqueue_flow_changes_total",
        help: "Flow state changes this process caused: opened and closed (circuit breaker), held (a dependency's Retry-After).")
    public static let flow: [ProcessMetric] = [flowParked, flowChanges]
}
