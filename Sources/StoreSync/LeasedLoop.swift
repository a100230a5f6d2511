import Foundation
import Logging
import QueueCore
import ServiceLifecycle

/// The loop of a periodic task that several `serve` processes run: every `interval`, the one process that takes the
/// task's lease in Redis runs `body`; the others skip that interval. A failure is logged (naming `what`) and the
/// loop goes on. Ends at graceful shutdown.
func runLeased(_ task: PeriodicTask, every interval: Duration, what: String, logger: Logger,
               _ body: @escaping @Sendable () async throws -> Void) async {
    let owner = UUID().uuidString
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                if try await task.tryLease(owner: owner, for: max(.seconds(1), interval - .seconds(1))) { try await body() }
            } catch {
                logger.warning("\(what) failed; it runs again at the next interval", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
