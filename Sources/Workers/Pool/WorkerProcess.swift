public import CoreMetrics
import Foundation
public import Logging
public import QueueCore
public import ServiceLifecycle

/// A worker process: a pool per queue, plus the heartbeat, the scheduler of delayed jobs, recovery of dead
/// processes' jobs, and the watchdog of job timeouts.
///
/// Start any number of these, on any host, against one Redis. On graceful shutdown (SIGTERM/SIGINT through the
/// service group) it stops taking jobs, lets running ones finish within `workers.shutdownGrace`, returns the
/// rest to the head of their queues and removes itself from the registry.
public final class WorkerProcess: Service, Sendable {
    public struct Options: Sendable {
        /// Queues to run pools for; `nil` runs all configured queues.
        public var queues: [String]?
        /// Stop once no job is ready, delayed or held anywhere (`drain`). Delayed jobs are released at start.
        public var exitWhenIdle: Bool

        public init(queues: [String]? = nil, exitWhenIdle: Bool = false) {
            self.queues = queues
            self.exitWhenIdle = exitWhenIdle
        }
    }

    public let id: String
    let configuration: QueueConfiguration
    let registry: HandlerRegistry
    let options: Options
    let observer: (any JobObserver)?
    /// Job metrics, when a metrics backend is set up; also the observer then.
    let jobMetrics: JobMetrics?
    let logger: Logger
    /// For the scheduler, recovery and shutdown.
    let control: QueueStore
    /// The heartbeat's own connection, so a slow call on `control` cannot delay it past `processTimeout`.
    let heartbeats: QueueStore
    /// Limits, pauses and holds; its own connection.
    let flow: FlowControl
    let stop = StopState()

    /// - Parameters:
    ///   - configuration: queues, worker settings, backoff.
    ///   - registry: the handler of each job type.
    ///   - options: which queues, and whether to exit when idle.
    ///   - observer: told about each job's start and outcome.
    ///   - metrics: where the job metrics go (``JobMetrics``); by default swift-metrics' bootstrapped system.
    ///   - logger: the process's logger.
    public init(configuration: QueueConfiguration, registry: HandlerRegistry, options: Options = Options(),
                observer: (any JobObserver)? = nil, metrics: any MetricsFactory = MetricsSystem.factory, logger: Logger) throws {
        self.configuration = configuration
        self.registry = registry
        self.options = options
        // Without a metrics backend (`work`), the per-job bookkeeping would be for nothing.
        jobMetrics = metrics is NOOPMetricsHandler ? nil : JobMetrics(factory: metrics, knownTypes: Set(registry.types), next: observer)
        self.observer = jobMetrics ?? observer
        self.logger = logger
        self.id = Self.makeProcessID()
        for name in options.queues ?? [] where configuration.queue(named: name) == nil {
            throw ConfigurationError("unknown queue \"\(name)\"; configured queues: \(configuration.queues.map(\.name).joined(separator: ", "))")
        }
        self.control = try QueueStore(
            url: configuration.redis.url, label: "control", prefix: configuration.redis.keyPrefix,
            statusRetention: configuration.workers.statusRetention, eventsKept: configuration.workers.eventsKept,
            replicationWait: configuration.redis.replicationWait)
        self.heartbeats = control.withNewConnection(label: "heartbeat")
        self.flow = FlowControl(configuration: configuration, store: control.withNewConnection(label: "flow"),
                                queues: configuration.queues.filter { queue in options.queues?.contains(queue.name) ?? true }.map(\.name),
                                metrics: metrics, logger: logger)
    }

    /// The queues this process runs pools for.
    public var servedQueues: [QueueConfiguration.QueueSettings] {
        guard let names = options.queues else { return configuration.queues }
        return configuration.queues.filter { names.contains($0.name) }
    }

    /// Asks the process to stop as on SIGTERM: no new jobs, running ones get the grace period.
    public func requestStop() {
        stop.begin(grace: configuration.workers.shutdownGrace)
    }

    public func run() async throws {
        // Writes to a peer that has gone (a Redis socket, a job command's standard input) must fail with EPIPE,
        // not kill the process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        try await control.checkServer(allowEviction: configuration.redis.allowEviction)
        let started = WallClock.nowMillis()
        let record = WorkerProcessRecord(id: id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()),
                                         queues: servedQueues.map(\.name), workers: servedQueues.map(\.workers),
                                         startedAt: started, heartbeatAt: started)
        // Registered before the first fetch, so no job is ever held by a process nobody can recover.
        try await heartbeats.heartbeat(record, ttl: configuration.workers.processTimeout)
        if options.exitWhenIdle { try await control.promoteDue(queues: configuration.queues.map(\.name), now: Int64.max) }
        logger.info("Worker process started", metadata: [
            "process": "\(id)", "queues": "\(servedQueues.map { "\($0.name)×\($0.workers)" }.joined(separator: " "))",
        ])

        let workers = servedQueues.flatMap { queue in
            (0..<queue.workers).map { index in
                QueueWorker(queue: queue, store: control.withNewConnection(label: "\(queue.name)-\(index)"),
                            holder: WorkerProcessRecord.holder(process: id, worker: index),
                            registry: registry, settings: configuration.workers, backoff: BackoffPolicy(configuration.backoff),
                            stop: stop, slot: JobSlot(), observer: observer, flow: flow, logger: logger)
            }
        }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { background in
                background.addTask { await self.every(self.configuration.workers.heartbeatInterval) { try await self.beat(record) } }
                background.addTask { await self.every(self.configuration.workers.schedulerInterval) { try await self.promote() } }
                background.addTask { await self.recoverSilentProcesses() }
                background.addTask { await self.flow.run() }
                background.addTask { await self.watch(workers.map(\.slot)) }
                if options.exitWhenIdle { background.addTask { await self.stopWhenIdle() } }
                await withTaskGroup(of: Void.self) { pool in
                    for worker in workers { pool.addTask { await worker.run() } }
                }
                background.cancelAll()
            }
        } onGracefulShutdown: {
            self.requestStop()
        }
        await leaveRegistry(record)
        logger.info("Worker process stopped", metadata: ["process": "\(id)"])
    }

    /// Removes this process from the registry, unless it still holds jobs (their outcomes could not be written):
    /// then only its heartbeat goes, so another process recovers them on its next sweeps.
    private func leaveRegistry(_ record: WorkerProcessRecord) async {
        do {
            let held = try await control.heldJobs(record)
            if held == 0 {
                try await control.deregister(process: id)
            } else {
                logger.warning("Stopping with jobs still held; another worker process will recover them",
                               metadata: ["process": "\(id)", "jobs": "\(held)"])
                try await control.endHeartbeat(process: id)
            }
        } catch {
            logger.warning("Could not leave the registry; this process will be treated as dead once its heartbeat expires",
                           metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Background loops

    /// Runs `body` every `interval` until the task is cancelled; errors are logged, never fatal.
    private func every(_ interval: Duration, _ body: () async throws -> Void) async {
        var lastError: String?
        while !Task.isCancelled {
            do {
                try await body()
                lastError = nil
            } catch {
                let text = "\(error)"
                if text != lastError { logger.warning("Background task failed; retrying", metadata: ["error": "\(text)"]) }
                lastError = text
            }
            try? await Task.sleep(for: interval)
        }
    }

    private func beat(_ record: WorkerProcessRecord) async throws {
        var record = record
        record.heartbeatAt = WallClock.nowMillis()
        try await heartbeats.heartbeat(record, ttl: configuration.workers.processTimeout)
        try await flow.renewLeases()
        RedisHealth.reportFailovers()
    }

    private func promote() async throws {
        try await control.promoteDue(queues: configuration.queues.map(\.name))
    }

    /// Recovers the jobs of processes whose heartbeat stopped.
    ///
    /// A process is recovered only after it stayed silent for two heartbeat intervals on consecutive sweeps
    /// while this process could reach Redis: after a Redis outage every heartbeat has expired, and live processes
    /// get that long to beat again instead of losing their jobs to the first process that reconnects.
    private func recoverSilentProcesses() async {
        let confirmation = configuration.workers.heartbeatInterval * 2
        var silentSince: [String: ContinuousClock.Instant] = [:]
        await every(configuration.workers.recoveryInterval) {
            do {
                let silent = try await control.silentProcesses(except: id)
                let now = ContinuousClock.now
                silentSince = silentSince.filter { entry in silent.contains { $0.id == entry.key } }
                for process in silent {
                    guard let since = silentSince[process.id] else {
                        silentSince[process.id] = now
                        continue
                    }
                    guard since.duration(to: now) >= confirmation else { continue }
                    silentSince[process.id] = nil
                    if let recovered = try await control.recover(process) {
                        for (queue, count) in recovered where count > 0 { jobMetrics?.jobsRecovered(queue: queue, count: count) }
                        logger.warning("Recovered the jobs of a dead worker process", metadata: [
                            "dead.process": "\(process.id)", "dead.host": "\(process.host)",
                            "jobs": "\(recovered.values.reduce(0, +))",
                        ])
                    }
                }
            } catch {
                silentSince.removeAll()  // silence seen while we could not look is no evidence
                throw error
            }
        }
    }

    /// Ends overdue jobs, and interrupts all running ones once the shutdown grace period is over.
    private func watch(_ slots: [JobSlot]) async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let interrupt = stop.isPastGrace
            for slot in slots { slot.check(now: now, interrupt: interrupt) }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// For `drain`: stops the process once two looks in a row find nothing left to do anywhere.
    private func stopWhenIdle() async {
        var idleLooks = 0
        while !Task.isCancelled, !stop.isStopping {
            if let snapshot = try? await control.snapshot(queues: configuration.queues, latestEvents: 0) {
                idleLooks = snapshot.isIdle ? idleLooks + 1 : 0
                if idleLooks >= 2 { requestStop() }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// `host-pid-xxxx`: readable in `status`, unique even when a pid is reused.
    static func makeProcessID() -> String {
        let host = ProcessInfo.processInfo.hostName.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "-" }
        let suffix = String(UInt32.random(in: 0..<(36 * 36 * 36 * 36)), radix: 36)
        return "\(String(host).prefix(40))-\(getpid())-\(suffix)"
    }
}
