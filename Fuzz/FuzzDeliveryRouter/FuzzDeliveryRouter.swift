import FuzzSupport
import Parsing
import QueueCore
import Routing

/// Routes like the repository's config.json, for every kind of payload a route can take (built directly: the
/// configuration file's reader lives above the modules a fuzz target may link).
private let router: DeliveryRouter = {
    let queues = ["high", "medium", "low", "bulk"].map {
        QueueConfiguration.QueueSettings(name: $0, workers: 1, retries: 2, maxDelay: .seconds(60))
    }
    let types = [("upsert", "bulk"), ("delete", "bulk"), ("email", "high"), ("erp", "medium"), ("stock", "bulk"), ("coupon", "low")]
    var jobTypes: [String: QueueConfiguration.JobTypeSettings] = [:]
    for (name, queue) in types {
        jobTypes[name] = .init(name: name, queue: queue, handler: "noop", timeout: .seconds(30), retries: nil,
                               settings: ConfigNode(value: .object([]), path: "jobTypes.\(name)"))
    }
    func route(_ type: String, _ payload: RouteSettings.Payload = .resource, coalesce: Bool = false) -> RouteSettings {
        RouteSettings(type: type, queue: jobTypes[type]?.queue ?? "low", delay: .zero, payload: payload, coalesce: coalesce)
    }
    let routes: [String: [RouteSettings]] = [
        "product.created": [route("upsert", coalesce: true)], "product.updated": [route("upsert", coalesce: true)],
        "product.deleted": [route("delete")],
        "order.created": [route("email"), route("erp", .erpOrder), route("stock", .orderStock)], "order.deleted": [route("email")],
        "coupon.created": [route("coupon")], "action.woocommerce_add_to_cart": [route("email")],
    ]
    let queue = QueueConfiguration(
        redis: .init(url: "redis://127.0.0.1:6379/0", keyPrefix: "fuzz", allowEviction: false),
        workers: .init(heartbeatInterval: .seconds(3), processTimeout: .seconds(15), recoveryInterval: .seconds(5), maxRecoveries: 3,
                       shutdownGrace: .seconds(25), fetchBatch: 100, schedulerInterval: .milliseconds(200), statusRetention: .seconds(86_400),
                       eventsKept: 1000),
        backoff: .init(base: .seconds(1), factor: 2, cap: .seconds(600), jitter: 0.1), queues: queues, jobTypes: jobTypes)
    return DeliveryRouter(configuration: .init(routes: routes, queue: queue))
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
