public import QueueCore
public import WooCommerceAPI

/// The store's webhooks against the routes: what they are (``status()``), and making them match
/// (``plan(secret:)``, then ``apply(_:)``). Reading works with the everyday keys of a user who can manage
/// WooCommerce; changing needs the managing keys (`woocommerce.manageKey`).
public struct WebhookSync: Sendable {
    /// One routed topic as the store and the intake see it.
    public struct TopicStatus: Sendable, Equatable, Encodable {
        public var topic: String
        /// Ours for this topic: `id`, `status`, and whether it delivers to this installation.
        public var webhooks: [WebhookState]
        /// The ms time of the last delivery the intake received for the topic; `nil`: none recorded.
        public var lastDelivery: Int64?

        /// True when exactly what is wanted holds: one active webhook delivering here.
        public var healthy: Bool { webhooks.count == 1 && webhooks[0].status == "active" && webhooks[0].deliversHere }

        /// What is wrong, in words; `nil` when healthy.
        public var problem: String? {
            guard !healthy else { return nil }
            let here = webhooks.filter(\.deliversHere)
            if webhooks.isEmpty { return "no webhook" }
            if here.isEmpty { return "its webhook delivers elsewhere" }
            if here.contains(where: { $0.status == "active" }) { return "\(webhooks.count) webhooks of ours" }
            return "its webhook is \(here[0].status)"
        }
    }

    public struct WebhookState: Sendable, Equatable, Encodable {
        public var id: Int64
        public var status: String
        public var deliversHere: Bool
        /// Signatures the intake refused from this webhook id (its secret differs from ours).
        public var refusedSignatures: Int
    }

    public struct Status: Sendable, Equatable, Encodable {
        public var topics: [TopicStatus]
        /// Webhooks of ours on topics no route takes.
        public var unrouted: [WebhookState]
        /// Webhooks delivering elsewhere (never touched).
        public var elsewhere: Int
        /// Refused signatures per webhook id the store does not list (a deleted webhook, or someone guessing).
        public var refusedFromUnknown: [String: Int]
    }

    let reader: WooCommerceClient
    let manager: WooCommerceClient?
    let store: QueueStore
    let topics: [String]
    public let deliveryURL: String

    /// - Parameters:
    ///   - reader: lists the webhooks (the managing client is used instead when there is one).
    ///   - manager: changes them; `nil` when no managing keys are set (``apply(_:)`` then refuses).
    ///   - topics: the routed topics.
    ///   - deliveryURL: where this installation receives deliveries (`webhooks.deliveryURL`, `--url`).
    public init(reader: WooCommerceClient, manager: WooCommerceClient?, store: QueueStore, topics: [String], deliveryURL: String) {
        self.reader = reader
        self.manager = manager
        self.store = store
        self.topics = topics.sorted()
        self.deliveryURL = deliveryURL
    }

    public func status() async throws -> Status {
        let webhooks = try await (manager ?? reader).webhooks()
        let activity = try await store.intakeActivity()
        func state(_ webhook: StoreWebhook) -> WebhookState {
            WebhookState(id: webhook.id, status: webhook.status, deliversHere: WebhookPlan.sameURL(webhook.deliveryURL, deliveryURL),
                         refusedSignatures: activity.refused[String(webhook.id)] ?? 0)
        }
        let ours = webhooks.filter { WebhookPlan.isOurs($0, deliveryURL: deliveryURL) }.sorted { $0.id < $1.id }
        let known = Set(webhooks.map { String($0.id) })
        return Status(
            topics: topics.map { topic in
                TopicStatus(topic: topic, webhooks: ours.filter { $0.topic == topic }.map(state), lastDelivery: activity.lastDelivery[topic])
            },
            unrouted: ours.filter { !topics.contains($0.topic) }.map(state),
            elsewhere: webhooks.count - ours.count,
            refusedFromUnknown: activity.refused.filter { !known.contains($0.key) })
    }

    /// The changes a sync would make; `secret` is what created webhooks get, and those whose signatures the intake
    /// refused (with `rotate`: every webhook of ours).
    public func plan(secret: String, rotate: Bool = false) async throws -> WebhookPlan {
        let webhooks = try await (manager ?? reader).webhooks()
        let refused = try await store.intakeActivity().refused
        return WebhookPlan.make(topics: topics, webhooks: webhooks, deliveryURL: deliveryURL, secret: secret,
                                needsSecret: Set(refused.filter { $0.value > 0 }.keys.compactMap { Int64($0) }), rotate: rotate)
    }

    /// Carries out the plan's steps in order; returns one line per step done. A step that fails stops the run
    /// with the steps done so far said in the error; running `sync` again finishes the rest.
    public func apply(_ plan: WebhookPlan, progress: (String) -> Void = { _ in }) async throws -> [String] {
        guard !plan.steps.isEmpty else { return [] }
        guard let manager else { throw WooCommerceError.missingManageKeys }
        var done: [String] = []
        for (step, line) in zip(plan.steps, plan.lines) {
            do {
                switch step {
                case .create(_, let change):
                    let created = try await manager.createWebhook(change)
                    done.append("\(line): webhook \(created.id)")
                case .update(let webhook, let change, _):
                    _ = try await manager.updateWebhook(id: webhook.id, change)
                    if change.secret != nil { try await store.clearRefusedSignatures(senders: [String(webhook.id)]) }
                    done.append(line)
                case .delete(let webhook, _):
                    try await manager.deleteWebhook(id: webhook.id)
                    done.append(line)
                }
            } catch {
                throw WebhookSyncError(done: done, failed: line, reason: "\(error)")
            }
            progress(done.last ?? line)
        }
        return done
    }
}

/// A sync that stopped part way: what it did, and the step that failed.
public struct WebhookSyncError: Error, CustomStringConvertible, Sendable {
    public let done: [String]
    public let failed: String
    public let reason: String

    public var description: String {
        "webhooks sync stopped at \"\(failed)\": \(reason). \(done.count) step(s) were done before it; run `wooqueue webhooks sync` again to finish"
    }
}
