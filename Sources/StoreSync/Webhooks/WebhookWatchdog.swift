import CoreMetrics
public import Foundation
public import Logging
public import QueueCore
public import ServiceLifecycle

/// Watches the store's webhooks from `serve`, every `webhooks.checkInterval`, one process per interval (a lease in
/// Redis, as for reconcile).
///
/// Each check compares the webhooks with the routes (``WebhookSync/status()``). A routed topic without exactly one
/// active webhook delivering here (WooCommerce disabled it after 6 failed deliveries, someone deleted it or
/// pointed it elsewhere) is written down as a finding, which the alert `webhook-disabled:<topic>` reads, and as a
/// gap to catch up on. With `webhooks.autoRepair` the check then runs the sync.
///
/// Once a topic is healthy again (repaired here, by `webhooks sync`, or by hand), the check catches up on its gap.
/// WooCommerce does not say when it disabled a webhook, so the gap starts at the last delivery the intake received
/// for the topic, minus `webhooks.catchUpMargin` for clock skew (with none recorded: one check interval before the
/// problem was first seen). Products modified since then go through the reconcile path; orders created since then
/// are routed like `order.created` deliveries, each once (``OrderSweep``).
public struct WebhookWatchdog: Service {
    public struct Settings: Sendable {
        public var interval: Duration
        public var autoRepair: Bool
        public var catchUpMargin: Duration
        /// The secret a repair gives a webhook it creates or whose signatures were refused; `nil`: no repair of
        /// those (a secret must be configured first).
        public var secret: String?

        public init(interval: Duration, autoRepair: Bool, catchUpMargin: Duration, secret: String?) {
            self.interval = interval
            self.autoRepair = autoRepair
            self.catchUpMargin = catchUpMargin
            self.secret = secret
        }
    }

    /// What one check did, for the log and the tests.
    public struct CheckReport: Sendable, Equatable {
        /// Topic → what is wrong, as found before any repair.
        public var problems: [String: String] = [:]
        /// The repair's steps, when one ran.
        public var repaired: [String] = []
        /// Topic → the catch-up's lower bound, for gaps caught up on in this check.
        public var caughtUp: [String: String] = [:]
        /// Orders routed by the catch-ups.
        public var ordersRouted = 0
        /// Products and variations enqueued by the catch-ups.
        public var productsEnqueued = 0
    }

    /// The task's name in Redis: its lease, its findings (`findings`, read by the alert) and its gaps (`gaps`).
    public static let task = "webhook-watchdog"

    let sync: WebhookSync
    let reconciler: Reconciler
    let settings: Settings
    let store: QueueStore
    let logger: Logger

    public init(sync: WebhookSync, reconciler: Reconciler, store: QueueStore, settings: Settings, logger: Logger) {
        self.sync = sync
        self.reconciler = reconciler
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    var task: PeriodicTask { store.periodicTask(Self.task) }

    public func run() async throws {
        await runLeased(task, every: settings.interval, what: "The webhook check", logger: logger) { _ = try await self.check() }
    }

    /// One check: findings, gaps, the repair, and the catch-up of gaps that are healthy again.
    public func check(now: Date = Date()) async throws -> CheckReport {
        var report = CheckReport()
        var status = try await sync.status()
        report.problems = Self.problems(status)
        try await task.replaceNotes("findings", with: report.problems)
        Gauge(label: ProcessMetric.webhookTopicsUnhealthy.name).record(report.problems.count)
        let gaps = try await task.notes("gaps")
        for (topic, problem) in report.problems.sorted(by: { $0.key < $1.key }) where gaps[topic] == nil {
            let last = status.topics.first { $0.topic == topic }?.lastDelivery
            // Not after now: a time read back from Redis that lies in the future (a clock ahead) would skip the gap.
            let start = last.map { min(Date(timeIntervalSince1970: Double($0) / 1000), now) } ?? now.addingTimeInterval(-Self.seconds(settings.interval))
            let since = Reconciler.gmt(start.addingTimeInterval(-Self.seconds(settings.catchUpMargin)))
            try await task.setNote("gaps", name: topic, text: since)
            logger.warning("A webhook does not deliver here; what it misses is caught up on once it does", metadata: [
                "event": "webhook-problem", "topic": "\(topic)", "problem": "\(problem)", "gap.since": "\(since)",
                "hint": "\(settings.autoRepair ? "webhooks.autoRepair is on: repairing" : "run `wooqueue webhooks sync`, or set webhooks.autoRepair")",
            ])
        }
        if settings.autoRepair, !report.problems.isEmpty, let secret = settings.secret {
            report.repaired = try await sync.apply(try await sync.plan(secret: secret))
            logger.notice("Repaired the store's webhooks", metadata: ["event": "webhook-repaired", "steps": "\(report.repaired.joined(separator: "; "))"])
            status = try await sync.status()
            let left = Self.problems(status)
            try await task.replaceNotes("findings", with: left)
            Gauge(label: ProcessMetric.webhookTopicsUnhealthy.name).record(left.count)
        }
        try await catchUp(status: status, report: &report)
        return report
    }

    /// Catches up on each gap whose topic is healthy now, then forgets the gap. Product topics share one sweep from
    /// the earliest of their gaps; `order.created` gets the order sweep.
    private func catchUp(status: WebhookSync.Status, report: inout CheckReport) async throws {
        let healthy = Set(status.topics.filter(\.healthy).map(\.topic))
        let due = try await task.notes("gaps").filter { healthy.contains($0.key) }
        guard !due.isEmpty else { return }
        let products = due.filter { $0.key.hasPrefix("product.") }
        if let since = products.values.min() {
            let swept = try await reconciler.run(since: since, withOrders: false)
            report.productsEnqueued += swept.enqueued
        }
        if let since = due["order.created"] {
            let swept = try await reconciler.orders.run(since: since, origin: "catch-up")
            report.ordersRouted += swept.routed
            Counter(label: ProcessMetric.ordersCaughtUp.name).increment(by: swept.routed)
        }
        for (topic, since) in due.sorted(by: { $0.key < $1.key }) {
            try await task.removeNote("gaps", name: topic)
            report.caughtUp[topic] = since
            logger.notice("Caught up on a webhook's gap", metadata: [
                "event": "webhook-caught-up", "topic": "\(topic)", "gap.since": "\(since)",
                "orders.routed": "\(report.ordersRouted)", "products.enqueued": "\(report.productsEnqueued)",
            ])
        }
    }

    /// Topic → what is wrong, for each unhealthy routed topic.
    static func problems(_ status: WebhookSync.Status) -> [String: String] {
        var problems: [String: String] = [:]
        for topic in status.topics { if let problem = topic.problem { problems[topic.topic] = problem } }
        return problems
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}

extension ProcessMetric {
    /// Routed topics without one active webhook delivering here, at the last check.
    public static let webhookTopicsUnhealthy = ProcessMetric(
        name: "wooqueue_webhook_topics_unhealthy",
        help: "Routed topics the last webhook check found without one active webhook delivering here (disabled, missing, pointing elsewhere).")
    /// Orders a catch-up routed after a webhook outage.
    public static let ordersCaughtUp = ProcessMetric(
        name: "wooqueue_orders_caught_up_total", help: "Orders created while their webhook did not deliver, routed by the catch-up.")

    /// The webhook check's metrics, for the exporter.
    public static let webhookCheck: [ProcessMetric] = [webhookTopicsUnhealthy, ordersCaughtUp]
}
