import AppConfiguration
import Dispatcher
import Foundation
import HTTPTypes
import Logging
@testable import Operations
import Parsing
import QueueCore
import RedisClient
import Routing
import StoreSync
import Synchronization
import TestSupport
import Testing
import WooCommerceAPI

/// The webhook check in `serve`, against the small real store: a webhook WooCommerce disabled is found, alerted
/// once, repaired, and the orders created during the gap are routed once, even when a late delivery of one of
/// them arrives afterwards.
@Suite("Webhook watchdog", .serialized)
struct WebhookWatchdogTests {
    static let here = "https://hooks.example/webhooks/woocommerce"
    static let secret = "watchdog-secret"
    /// Four jobs per order, as the README's example fan-out: e-mail, ERP, invoice, analytics.
    static let configurationJSON = #"""
        {"jobTypes": {"send_order_email": {"queue": "high", "handler": "noop"}, "sync_erp": {"queue": "medium", "handler": "noop"},
                      "generate_invoice": {"queue": "low", "handler": "noop"}, "update_analytics": {"queue": "low", "handler": "noop"}},
         "routes": {"order.created": [{"type": "send_order_email"}, {"type": "sync_erp"}, {"type": "generate_invoice"}, {"type": "update_analytics"}]},
         "webhooks": {"secrets": ["watchdog-secret"]}}
        """#

    /// Order ids on the queues' ready lists, one entry per job.
    private func routedOrders(_ queue: QueueStore) async throws -> [Int64] {
        var ids: [Int64] = []
        for name in ["high", "medium", "low"] {
            for value in try await queue.connection.send("LRANGE", queue.keys(name).ready, "0", "-1").array ?? [] {
                guard let bytes = value.bytes, let job = try? JobEnvelope(decoding: bytes),
                      case .number(let id)? = try? JSONValue.parse(job.payload)["id"] else { continue }
                ids.append(Int64(exactly: id) ?? -1)
            }
        }
        return ids.sorted()
    }

    @Test func aDisabledWebhookIsAlertedRepairedAndItsGapsOrdersAreRoutedOnce() async throws {
        let store = try await FakeStore.start()
        defer { store.stop() }
        try await withFreshQueue("watchdog", Self.configurationJSON) { configuration, queue in
            let reader = try store.client(perPage: 2)
            let manager = try store.client(key: FakeStore.manageKey, secret: FakeStore.manageSecret)
            let sync = WebhookSync(reader: reader, manager: manager, store: queue, topics: ["order.created"], deliveryURL: Self.here)
            var logger = Logger(label: "test.watchdog")
            logger.logLevel = .critical
            func watchdog(autoRepair: Bool) -> WebhookWatchdog {
                WebhookWatchdog(sync: sync, reconciler: Reconciler(client: reader, store: queue, routing: configuration.routing),
                                store: queue, settings: .init(interval: .seconds(60), autoRepair: autoRepair, catchUpMargin: .seconds(300),
                                                              secret: Self.secret), logger: logger)
            }
            // WooCommerce disabled the webhook; the last delivery the intake saw was at 10:00:00 GMT.
            store.addWebhook(name: "wooqueue: order.created", status: "disabled", topic: "order.created", deliveryURL: Self.here,
                             secret: Self.secret)
            let lastDelivery = try #require(ISO8601DateFormatter().date(from: "2026-11-30T10:00:00Z"))
            try await queue.recordIntakeActivity(lastDelivery: ["order.created": Int64(lastDelivery.timeIntervalSince1970 * 1000)], refused: [:])
            try store.addOrder(id: 500, status: "processing", createdGMT: "2026-11-30T09:50:00")  // before the gap and its margin
            try store.addOrder(id: 501, status: "processing", createdGMT: "2026-11-30T09:58:00")  // in the 5-minute margin
            for (id, status) in [(502, "processing"), (503, "on-hold"), (504, "completed"), (505, "processing"), (506, "processing")] {
                try store.addOrder(id: Int64(id), status: status, createdGMT: "2026-11-30T10:\(id - 490):00")
            }
            try store.addOrder(id: 507, status: "checkout-draft", createdGMT: "2026-11-30T10:20:00")
            try store.addOrder(id: 508, status: "pending", createdGMT: "2026-11-30T10:21:00")

            // Without repair: found, written down for the alert, and not caught up on yet (nothing delivers).
            let first = try await watchdog(autoRepair: false).check()
            #expect(first.problems == ["order.created": "its webhook is disabled"])
            #expect(first.repaired.isEmpty && first.caughtUp.isEmpty)
            #expect(try await queue.periodicTask(WebhookWatchdog.task).notes("findings") == ["order.created": "its webhook is disabled"])
            #expect(try await routedOrders(queue).isEmpty)

            // The alert fires once however many checks see it, and resolves once the webhook is back.
            let receiver = try await TestHTTPServer.start { _ in (.ok, "ok") }
            defer { receiver.stop() }
            var alertSettings = configuration.alerts
            alertSettings.webhookURL = receiver.url
            let monitor = AlertMonitor(settings: alertSettings, queues: configuration.queues, store: queue, process: "test:1",
                                       readings: { LocalReadings(badSignatures: 0, spooledDeliveries: 0) },
                                       webhookFindings: { try? await queue.periodicTask(WebhookWatchdog.task).notes("findings") },
                                       watchedTopics: ["order.created"], logger: logger)
            await monitor.check(local: LocalReadings(badSignatures: 0, spooledDeliveries: 0), badSignaturesPerMinute: 0)
            await monitor.check(local: LocalReadings(badSignatures: 0, spooledDeliveries: 0), badSignaturesPerMinute: 0)
            let fired = receiver.requests.filter { $0.body.contains("webhook for order.created") }
            #expect(fired.count == 1 && fired[0].body.contains("wooqueue alert") && fired[0].body.contains("disabled"), "\(fired.map(\.body))")

            // With repair: re-activated, then the gap (from 09:55, the last delivery minus the margin) is caught up.
            let second = try await watchdog(autoRepair: true).check()
            #expect(second.repaired.count == 1, "\(second.repaired)")
            #expect(store.state.withLock { $0.webhooks.values.first?.status } == "active")
            #expect(second.caughtUp == ["order.created": "2026-11-30T09:55:00"])
            #expect(second.ordersRouted == 6, "501 to 506; not 500 (before), 507 (checkout-draft) or 508 (pending)")
            let routed = try await routedOrders(queue)
            #expect(routed == [501, 502, 503, 504, 505, 506].flatMap { Array(repeating: Int64($0), count: 4) }, "each order's 4 jobs once: \(routed)")

            // A later check, and the periodic sweep over the same window, route nothing again.
            let third = try await watchdog(autoRepair: true).check()
            #expect(third.problems.isEmpty && third.caughtUp.isEmpty && third.ordersRouted == 0)
            let sweep = try await Reconciler(client: reader, store: queue, routing: configuration.routing).orders.run(since: "2026-11-30T09:00:00", origin: "reconcile")
            #expect(sweep.routed == 1 && sweep.alreadyRouted == 6, "only 500 is new to it: \(sweep)")

            // A late delivery of order 503 (WooCommerce's own, after the repair) is answered, and not fanned out again.
            let intake = try WebhookIntake(configuration: configuration, store: queue.withNewConnection(label: "intake"), logger: logger)
            let body = try #require(try store.state.withLock { state in
                try JSONSerialization.data(withJSONObject: state.orders[503]!, options: [.sortedKeys])
            })
            let signature = try OpenSSL.hmacSHA256Base64(Array(body), key: Self.secret)
            let answer = await intake.receive(.init(topic: "order.created", signature: signature, deliveryID: "late-503", webhookID: "101",
                                                    body: Array(body)))
            #expect(answer.status == 200 && answer.body.contains("duplicate"), "\(answer.body)")
            #expect(try await routedOrders(queue).count == 7 * 4, "no new jobs for 503")

            await monitor.check(local: LocalReadings(badSignatures: 0, spooledDeliveries: 0), badSignaturesPerMinute: 0)
            #expect(receiver.requests.filter { $0.body.contains("wooqueue resolved") && $0.body.contains("order.created") }.count == 1)

            // The periodic sweep's first run with orders only marks the time (deliveries before it were claimed by
            // body, not by id); the next sweep routes the orders created after the mark, and no earlier one.
            let reconciler = Reconciler(client: reader, store: queue, routing: configuration.routing)
            #expect(try await reconciler.run(since: "2026-11-30T09:00:00").orders == nil)
            try store.addOrder(id: 600, status: "processing", createdGMT: Reconciler.gmt(Date().addingTimeInterval(5)))
            let next = try await reconciler.run(since: "2026-11-30T09:00:00")
            #expect(next.orders?.routed == 1 && next.orders?.listed == 1, "only 600: \(String(describing: next.orders))")
        }
    }
}
