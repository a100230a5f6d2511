import AppConfiguration
import Dispatcher
import Foundation
import Logging
import Parsing
import QueueCore
import RedisClient
import StoreSync
import Synchronization
import TestSupport
import Testing
import WooCommerceAPI

/// The whole lifecycle, store to jobs: the store delivers to the real intake over HTTP, the deliveries fail (a
/// secret changed in WP-admin: the intake refuses the signatures), WooCommerce's own rule disables the webhook,
/// orders keep coming, and the webhook check repairs the webhook and catches up. Every order gets its e-mail, ERP,
/// invoice and analytics jobs exactly once.
@Suite("Webhook lifecycle end to end", .serialized)
struct WebhookEndToEndTests {
    static let secret = "the-configured-secret"

    /// Order ids on the queues' ready lists, one entry per job, by job type.
    private func jobsByType(_ queue: QueueStore) async throws -> [String: [Int64]] {
        var jobs: [String: [Int64]] = [:]
        for name in ["high", "medium", "low"] {
            for value in try await queue.connection.send("LRANGE", queue.keys(name).ready, "0", "-1").array ?? [] {
                guard let bytes = value.bytes, let job = try? JobEnvelope(decoding: bytes),
                      case .number(let id)? = try? JSONValue.parse(job.payload)["id"], let order = Int64(exactly: id) else { continue }
                jobs[job.type, default: []].append(order)
            }
        }
        return jobs.mapValues { $0.sorted() }
    }

    @Test func failedDeliveriesDisableTheWebhookThenTheCheckRepairsItAndEveryOrderFansOutOnce() async throws {
        let store = try await FakeStore.start()
        defer { store.stop() }
        let json = #"""
            {"http": {"port": 0},
             "jobTypes": {"send_order_email": {"queue": "high", "handler": "noop"}, "sync_erp": {"queue": "medium", "handler": "noop"},
                          "generate_invoice": {"queue": "low", "handler": "noop"}, "update_analytics": {"queue": "low", "handler": "noop"}},
             "routes": {"order.created": [{"type": "send_order_email"}, {"type": "sync_erp"}, {"type": "generate_invoice"}, {"type": "update_analytics"}]},
             "webhooks": {"secrets": ["the-configured-secret"], "spoolDirectory": "/tmp/wq-e2e-spool"}}
            """#
        try await withFreshQueue("webhook-e2e", json) { configuration, queue in
            var logger = Logger(label: "test.e2e")
            logger.logLevel = .critical
            let intake = try await IntakeServer.start(configuration: configuration, store: queue, logger: logger)
            defer { Task { await intake.stop() } }
            let reader = try store.client(perPage: 3)
            let sync = WebhookSync(reader: reader, manager: try store.client(key: FakeStore.manageKey, secret: FakeStore.manageSecret), store: queue,
                                   topics: ["order.created"], deliveryURL: intake.url)
            let watchdog = WebhookWatchdog(
                sync: sync, reconciler: Reconciler(client: reader, store: queue, routing: configuration.routing), store: queue,
                settings: .init(interval: .seconds(60), autoRepair: true, catchUpMargin: .seconds(120), secret: Self.secret), logger: logger)

            // `webhooks sync` creates the webhook with the configured secret; WooCommerce's first delivery arrives.
            _ = try await sync.apply(try await sync.plan(secret: Self.secret))
            let webhook = try #require(store.state.withLock { $0.webhooks.values.first })
            // One order a second from now on, as a busy checkout: the gap starts at the last delivery received.
            let clock = Date()
            func created(_ second: Int) -> String { Reconciler.gmt(clock.addingTimeInterval(Double(second))) }
            let first = try store.addOrder(id: 1001, status: "processing", createdGMT: created(0))
            #expect(try await store.deliver(topic: "order.created", first) == [webhook.id: 200])
            try await waitUntil("the intake to record the delivery", timeout: .seconds(10)) {
                try await queue.intakeActivity().lastDelivery["order.created"] != nil
            }

            // Someone changes the secret in WP-admin: every delivery is refused, and WooCommerce counts failures.
            store.state.withLock { $0.webhooks[webhook.id]?.secret = "edited-in-wp-admin" }
            var failed = 0
            for id in 1002...1008 {
                let order = try store.addOrder(id: Int64(id), status: "processing", createdGMT: created(id - 1001))
                let answers = try await store.deliver(topic: "order.created", order)
                if answers[webhook.id] == 401 { failed += 1 }
            }
            #expect(failed == 7)
            #expect(store.state.withLock { $0.webhooks[webhook.id]?.status } == "disabled",
                    "WooCommerce disables the webhook once more than 5 failures are counted: on the 7th")
            // Disabled, the store delivers nothing: these orders are only in the REST API.
            for id in 1009...1010 {
                let order = try store.addOrder(id: Int64(id), status: id == 1010 ? "on-hold" : "processing", createdGMT: created(id - 1001))
                #expect(try await store.deliver(topic: "order.created", order).isEmpty)
            }
            try await waitUntil("the intake to record the refusals", timeout: .seconds(10)) {
                try await queue.intakeActivity().refused[String(webhook.id)] == 7
            }

            let report = try await watchdog.check()
            #expect(report.problems == ["order.created": "its webhook is disabled"])
            #expect(report.repaired.count == 1 && report.repaired[0].contains("secret set again"), "\(report.repaired)")
            #expect(store.state.withLock { $0.webhooks[webhook.id]?.status } == "active")
            #expect(report.ordersRouted == 9, "1002 to 1010; 1001 came by its delivery")

            // Repaired with the right secret, the next delivery is accepted.
            let next = try store.addOrder(id: 1011, status: "processing", createdGMT: created(11))
            #expect(try await store.deliver(topic: "order.created", next) == [webhook.id: 200])
            try await waitUntil("the last order's jobs", timeout: .seconds(10)) {
                try await jobsByType(queue)["send_order_email"]?.contains(1011) == true
            }
            let expected = Array(Int64(1001)...1011)
            let jobs = try await jobsByType(queue)
            for type in ["send_order_email", "sync_erp", "generate_invoice", "update_analytics"] {
                #expect(jobs[type] == expected, "\(type): every order once, got \(jobs[type] ?? [])")
            }
        }
        try? FileManager.default.removeItem(atPath: "/tmp/wq-e2e-spool")
    }
}
