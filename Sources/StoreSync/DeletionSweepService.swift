public import Logging
import QueueCore
public import ServiceLifecycle

/// `reconcile --deletions` on a timer in `serve` (every `woocommerce.deletionSweepInterval`, one process per
/// interval): finds the inv_items rows whose product the store no longer has, since a permanent delete sends no
/// webhook, and applies `inventory.deletion` to them. It pages through the whole catalogue, hence a slow interval.
public struct DeletionSweepService: Service {
    let sweep: Bootstrap
    let interval: Duration
    let logger: Logger

    /// - Parameter sweep: a ``Bootstrap`` made with `task: "deletion-sweep"`.
    public init(sweep: Bootstrap, interval: Duration, logger: Logger) {
        self.sweep = sweep
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await runLeased(sweep.store.periodicTask("deletion-sweep"), every: interval, what: "The deletion sweep", logger: logger) {
            let report = try await sweep.run(.init(deleteOrphans: true)) { _ in }
            logger.info("Deletion sweep done", metadata: [
                "orphans": "\(report.orphans)", "removed": "\(report.orphansRemoved)", "enqueued": "\(report.enqueued)",
            ])
        }
    }
}
