public import AppConfiguration
public import CoreMetrics
import Foundation
public import QueueCore
import Synchronization
public import Workers
import Logging
import RedisClient

/// Records what the workers report, for assertions on order and timing.
public final class RecordingObserver: JobObserver {
    public struct Start: Sendable {
        public let envelope: JobEnvelope
        public let at: ContinuousClock.Instant
    }

    private let starts = Mutex<[Start]>([])
    private let outcomes = Mutex<[Settlement.Kind]>([])

    public func jobStarted(_ envelope: JobEnvelope, pickupLatency: Duration) {
        let now = ContinuousClock.now
        starts.withLock { $0.append(Start(envelope: envelope, at: now)) }
    }

    public func jobSettled(queue: String, type: String, outcome: Settlement.Kind, duration: Duration) {
        outcomes.withLock { $0.append(outcome) }
    }

    public var started: [Start] { starts.withLock { $0 } }
    public func count(_ kind: Settlement.Kind) -> Int { outcomes.withLock { $0.filter { $0 == kind }.count } }
    public var settledCount: Int { outcomes.withLock { $0.count } }
}

/// A worker process running in the background of a test, on its own key prefix.
public struct WorkerHarness {
    public let configuration: WooqueueConfiguration
    public let store: QueueStore
    public let observer = RecordingObserver()

    public init(_ json: String = "{}", name: String = "workers") throws {
        configuration = try TestEnvironment.configuration(prefix: TestEnvironment.uniquePrefix(name), json)
        store = try TestEnvironment.store(configuration)
    }

    public func job(_ type: String = "noop", queue: String? = nil, payload: String = "{}", key: String? = nil) -> JobEnvelope {
        let queue = queue ?? configuration.jobTypes[type]?.queue ?? configuration.queues[0].name
        return JobEnvelope(type: type, queue: queue, payload: Array(payload.utf8),
                           maxAttempts: configuration.maxAttempts(type: type, queue: queue), key: key)
    }

    /// Starts a worker process, runs `body`, then stops the process gracefully. Keys stay for the test's
    /// assertions until ``cleanup()``.
    public func run(
        registry: HandlerRegistry? = nil, options: WorkerProcess.Options = .init(), metrics: any MetricsFactory = MetricsSystem.factory,
        _ body: (WorkerProcess) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test.workers")
        logger.logLevel = .warning
        let process = try WorkerProcess(configuration: configuration, registry: registry ?? HandlerRegistry.builtIn(configuration),
                                        options: options, observer: observer, metrics: metrics, logger: logger)
        let running = Task { try await process.run() }
        do {
            try await body(process)
        } catch {
            process.requestStop()
            _ = try? await running.value
            _ = try? await store.deleteAllKeys()
            throw error
        }
        process.requestStop()
        try await running.value
    }

    /// Deletes the test's keys.
    public func cleanup() async throws {
        try await store.deleteAllKeys()
    }

    public func queue(_ name: String) async throws -> QueueSnapshot.Queue {
        try await store.snapshot(queues: configuration.queues, latestEvents: 1).queues.first { $0.name == name }!
    }

    /// Waits until `name` has `done` finished jobs and `dead` dead letters.
    public func waitFor(_ name: String, done: Int, dead: Int = 0, timeout: Duration = .seconds(20)) async throws {
        try await waitUntil("queue \(name) to reach done=\(done) dead=\(dead)", timeout: timeout) {
            do {
                let q = try await queue(name)
                return q.done >= done && q.dead >= dead
            } catch let error as RedisError where error.isUnavailable {
                return false  // a test that restarts Redis polls through the restart
            }
        }
    }
}

extension HandlerRegistry {
    /// The handlers of `configuration`'s types of the built-in kinds (noop, http, exec); the inventory types are
    /// left out (the Inventory tests register them).
    public static func builtIn(_ configuration: WooqueueConfiguration) throws -> HandlerRegistry {
        let kinds = HandlerKinds.builtIn
        return try kinds.registry(for: configuration.jobTypes.filter { kinds.names.contains($0.value.handler) })
    }
}

/// A handler defined inline by a test.
public struct ClosureHandler: JobHandler {
    let body: @Sendable (JobContext) async throws -> Void
    public init(_ body: @escaping @Sendable (JobContext) async throws -> Void) { self.body = body }
    public func handle(_ job: JobContext) async throws { try await body(job) }
}
