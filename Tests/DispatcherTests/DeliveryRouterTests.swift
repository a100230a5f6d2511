import Dispatcher
import Foundation
import Parsing
import QueueCore
import Routing
import TestSupport
import Testing

@Suite struct DeliveryRouterTests {
    /// The repository's config.json: the routes users start from.
    let configuration = try! WooqueueConfiguration.load(
        path: TestEnvironment.repositoryRoot.appendingPathComponent("config.json").path, environment: [:])

    func route(_ topic: String, _ fixture: String, id: String? = "d-1") throws -> [JobEnvelope] {
        try DeliveryRouter(configuration: configuration).jobs(
            for: Delivery(topic: topic, deliveryID: id, body: try Fixtures.bytes(fixture), origin: "woocommerce"), now: 1_000_000)
    }

    @Test func productDeliveriesBecomeInventoryUpsertsCarryingTheBodyVerbatim() throws {
        for topic in ["product.created", "product.updated", "product.restored"] {
            let jobs = try route(topic, "product-simple.json")
            #expect(jobs.map(\.type) == ["inventory.upsert"])
            #expect(jobs[0].queue == "bulk")
            #expect(jobs[0].payload == (try Fixtures.bytes("product-simple.json")))
            #expect(jobs[0].key == "TEE-PQ-001")
            #expect(jobs[0].source == "woocommerce:\(topic):d-1")
            #expect(jobs[0].runAt == nil)
        }
        #expect(try route("product.updated", "product-no-sku.json")[0].key == "product:803")
        #expect(try route("product.updated", "variation-901.json")[0].type == "inventory.upsert")
    }

    @Test func aDeletedProductCarriesOnlyItsID() throws {
        let jobs = try route("product.deleted", "product-deleted.json")
        #expect(jobs.map(\.type) == ["inventory.delete"])
        #expect(jobs[0].key == "product:794")
        #expect(jobs[0].payloadText == String(decoding: try Fixtures.bytes("product-deleted.json"), as: UTF8.self))
    }

    @Test func anOrderFansOutByTheConfiguredRoutes() throws {
        let jobs = try route("order.created", "order-created.json")
        #expect(jobs.map(\.type) == ["send_order_email", "sync_erp", "generate_invoice", "update_analytics", "stock_sync"])
        #expect(jobs.map(\.queue) == ["high", "medium", "medium", "low", "bulk"])
        #expect(jobs.map { $0.runAt.map { $0 - 1_000_000 } } == [nil, 60_000, 120_000, 300_000, nil])
        #expect(Set(jobs.map(\.key)) == ["order:727"])

        let erp = try JSONValue.parse(jobs[1].payload)
        #expect(erp["order_number"] == .string("727"))
        #expect(erp["total"] == .string("101.33"))
        #expect(erp["currency"] == .string("USD"))
        #expect(erp["items"] == .array([
            .object([("sku", .string("TEE-PQ-001")), ("qty", .number(2)), ("total", .string("43.98"))]),
            .object([("sku", .string("HOODIE-BLUE-M")), ("qty", .number(1)), ("total", .string("45.00"))]),
        ]))
        let stock = try JSONValue.parse(jobs[4].payload)
        #expect(stock["items"] == .array([
            .object([("product_id", .number(794)), ("variation_id", .number(0)), ("sku", .string("TEE-PQ-001"))]),
            .object([("product_id", .number(900)), ("variation_id", .number(901)), ("sku", .string("HOODIE-BLUE-M"))]),
        ]))
        #expect(jobs[0].payload == (try Fixtures.bytes("order-created.json")), "the e-mail job gets the whole order")
    }

    @Test func undeliverableDeliveriesSayWhy() throws {
        let router = DeliveryRouter(configuration: configuration)
        #expect(throws: RoutingError.noRoute(topic: "coupon.created", known: configuration.routes.keys.sorted())) {
            try router.jobs(for: Delivery(topic: "coupon.created", deliveryID: nil, body: Array("{}".utf8), origin: "cli"))
        }
        let broken = #expect(throws: RoutingError.self) {
            try router.jobs(for: Delivery(topic: "product.updated", deliveryID: nil, body: Array(#"{"id": 1, "sku": }"#.utf8), origin: "cli"))
        }
        #expect(broken?.description.hasPrefix("the body is not valid JSON") == true)
        #expect(throws: RoutingError.notAnObject) {
            try router.jobs(for: Delivery(topic: "product.updated", deliveryID: nil, body: Array("[1]".utf8), origin: "cli"))
        }
    }

    @Test func routesAreValidatedAgainstJobTypesAndQueues() {
        func error(_ routes: String) -> String {
            do {
                _ = try WooqueueConfiguration.decode(try JSONValue.parse(Array(#"{"routes": \#(routes)}"#.utf8)), environment: [:])
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(error(#"{"order.created": [{"type": "send_mail"}]}"#).contains(#"routes.order.created[0].type names job type "send_mail", which is not configured"#))
        #expect(error(#"{"order.created": [{"type": "noop", "queue": "urgent"}]}"#).contains("routes.order.created[0].queue must be one of the configured queues"))
        #expect(error(#"{"order.created": [{"type": "noop", "payload": "xml"}]}"#).contains("routes.order.created[0].payload must be one of resource, erp_order, order_stock"))
        #expect(error(#"{"Order Created": []}"#).contains("is not a WooCommerce topic"))
        #expect(error(#"{"order.created": {"type": "noop"}}"#).contains("routes.order.created must be an array"))
    }
}
