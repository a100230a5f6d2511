public import QueueCore
import WooCommerceModel

extension DeliveryRouter {
    /// The jobs of one page of store items (each a product's or variation's JSON as the store sent it), routed as
    /// `product.updated` deliveries would be, except that a route of inventory upserts (a type with the
    /// `inventory` handler, the product as payload) gets one job for the whole page, `{"products": […]}`: a
    /// hundred products cost one job, and one that fails continues as a job of its own (the inventory handler).
    public func jobs(forStorePage bodies: [[UInt8]], origin: String, page: Int) throws -> [JobEnvelope] {
        let topic = "product.updated"
        guard let routes = configuration.routes[topic], !routes.isEmpty else {
            throw RoutingError.noRoute(topic: topic, known: configuration.routes.keys.sorted())
        }
        if bodies.isEmpty { return [] }
        let now = WallClock.nowMillis()
        var resources: [WooResource]?  // read once, for the routes that get a job per product
        var jobs: [JobEnvelope] = []
        for route in routes {
            if route.payload == .resource, Self.takesProductPages(configuration.jobTypes[route.type]) {
                let source = source(of: Delivery(topic: topic, deliveryID: "page-\(page)", body: [], origin: origin))
                jobs.append(routedJob(route, payload: ProductPage.payload(bodies), now: now,
                                      key: "page \(page) (\(bodies.count) products)", source: source))
            } else {
                if resources == nil { resources = try bodies.map { try WooResource(body: $0) } }
                for (body, resource) in zip(bodies, resources ?? []) {
                    let delivery = Delivery(topic: topic, deliveryID: nil, body: body, origin: origin)
                    jobs.append(job(for: delivery, resource: resource, route: route, now: now))
                }
            }
        }
        return jobs
    }

    /// Whether jobs of `type` may carry a page of products: the inventory upserts do (kind `inventory`, operation
    /// `upsert`).
    static func takesProductPages(_ type: QueueConfiguration.JobTypeSettings?) -> Bool {
        guard let type, type.handler == "inventory" else { return false }
        return (try? type.settings.child("operation").string(default: "upsert")) == "upsert"
    }
}
