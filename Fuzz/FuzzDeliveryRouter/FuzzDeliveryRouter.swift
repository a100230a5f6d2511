import FuzzSupport
import Parsing
import QueueCore
import Routing

/// The routes of the repository's config.json, for the kinds of payload a route can take.
private let router: DeliveryRouter = {
    let configuration = #"""
        {"jobTypes": {"upsert": {"queue": "bulk", "handler": "noop"}, "delete": {"queue": "bulk", "handler": "noop"},
                      "email": {"queue": "high", "handler": "noop"}, "erp": {"queue": "medium", "handler": "noop"},
                      "stock": {"queue": "bulk", "handler": "noop"}, "coupon": {"queue": "low", "handler": "noop"}},
         "routes": {"product.created": [{"type": "upsert", "coalesce": true}], "product.updated": [{"type": "upsert", "coalesce": true}],
                    "product.deleted": [{"type": "delete"}], "order.created": [{"type": "email"}, {"type": "erp", "payload": "erp_order"},
                    {"type": "stock", "payload": "order_stock"}], "order.deleted": [{"type": "email"}], "coupon.created": [{"type": "coupon"}],
                    "action.woocommerce_add_to_cart": [{"type": "email"}]}}
        """#
    // A fixed text known to be valid: a failure here is a broken target, not a finding.
    return DeliveryRouter(configuration: try! WooqueueConfiguration.decode(try! JSONValue.parse(Array(configuration.utf8)), environment: [:]))
}()

private let topics = ["product.created", "product.updated", "product.deleted", "order.created", "order.deleted", "coupon.created",
                      "action.woocommerce_add_to_cart", "product", "order.updated", ""]

/// libFuzzer target: a signed delivery as the router sees it (the first byte picks the topic header, the rest is
/// the body). Routing never traps; the jobs it makes are envelopes that read back, with JSON payloads; a deletion
/// it accepts carries only an id.
@main enum FuzzDeliveryRouter {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzInput(data, count)
    guard let selector = input.first else { return 0 }
    let topic = topics[Int(selector) % topics.count]
    let body = Array(input.dropFirst())
    guard let jobs = try? router.jobs(for: Delivery(topic: topic, deliveryID: "d", body: body, origin: "fuzz"), now: 1_000) else { return 0 }
    for job in jobs {
        guard let payload = try? JSONValue.parse(job.payload) else { fatalError("a job of \(topic) has a payload that is not JSON") }
        guard let decoded = try? JobEnvelope(decoding: job.encoded()), decoded.id == job.id, decoded.type == job.type,
              (try? JSONValue.parse(decoded.payload)) == payload else {
            fatalError("a job of \(topic) does not read back")
        }
    }
    if topic.hasSuffix(".deleted"), case .object(let members)? = try? JSONValue.parse(body), members.map(\.key) != ["id"] {
        fatalError("a deletion with more than an id was routed")
    }
    return 0
}
