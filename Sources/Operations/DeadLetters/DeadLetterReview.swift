public import QueueCore
public import Routing

/// Retrying dead letters, the one way for the dashboard and `wooqueue dlq retry`.
///
/// A job goes back to its queue with fresh attempts. A delivery kept for review (``KeptDelivery``) is routed
/// again and its jobs enqueued; one that still cannot be routed stays, and the outcome says why. A kept delivery
/// is never pushed onto a queue of its own: no worker serves `webhooks`, so it would be lost there.
public struct DeadLetterReview: Sendable {
    public struct Outcome: Sendable, Equatable {
        /// Jobs sent back to their queues.
        public var retried = 0
        /// Kept deliveries routed into jobs.
        public var rerouted = 0
        /// Kept deliveries that still cannot be routed: which, and why.
        public var stillUnroutable: [String] = []

        /// One line for people: `3 sent back to their queue, 1 delivery routed again, 1 still cannot be routed`.
        public var summary: String {
            var parts = ["\(retried) sent back to their queue"]
            if rerouted > 0 { parts.append("\(rerouted) kept deliver\(rerouted == 1 ? "y" : "ies") routed again") }
            if !stillUnroutable.isEmpty { parts.append("\(stillUnroutable.count) still cannot be routed") }
            return parts.joined(separator: ", ")
        }
    }

    private let store: QueueStore
    private let router: DeliveryRouter

    public init(routing: DeliveryRouter.Configuration, store: QueueStore) {
        self.store = store
        self.router = DeliveryRouter(configuration: routing)
    }

    /// The dead-letter lists to review: every configured queue's and the kept deliveries'.
    public static func queues(_ configuration: QueueConfiguration) -> [String] {
        configuration.queues.map(\.name) + [KeptDelivery.queue]
    }

    public func retry(_ letters: [DeadLetter]) async throws -> Outcome {
        var outcome = Outcome()
        outcome.retried = try await store.retryDeadLetters(letters.filter { $0.queue != KeptDelivery.queue })
        var routed: [DeadLetter] = []
        var jobs: [JobEnvelope] = []
        for letter in letters where letter.queue == KeptDelivery.queue {
            guard let envelope = letter.envelope, let kept = KeptDelivery(envelope) else {
                outcome.stillUnroutable.append("\(letter.envelope?.id ?? "an entry") is not a kept delivery")
                continue
            }
            do {
                jobs += try router.jobs(for: kept)
                routed.append(letter)
            } catch {
                outcome.stillUnroutable.append("\(kept.deliveryID ?? envelope.id) (\(kept.topic ?? "no topic")): \(error)")
            }
        }
        // Every routed delivery's jobs in one pipeline, then their dead letters removed: a retry cut short between
        // the two enqueues them again next time (at-least-once), never loses them.
        try await store.enqueue(jobs)
        outcome.rerouted = try await store.deleteDeadLetters(routed)
        return outcome
    }
}
