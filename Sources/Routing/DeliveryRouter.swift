public import QueueCore

/// Turns a delivery into its jobs by the configured routes: the same for webhooks, `enqueue --topic` and the
/// REST sweeps.
public struct DeliveryRouter: Sendable {
    /// What the router reads: the routes, and the job types and queues they name.
    public struct Configuration: Sendable {
        /// WooCommerce topic (`product.updated`) → the jobs a delivery of it becomes.
        public var routes: [String: [RouteSettings]]
        public var queue: QueueConfiguration

        public init(routes: [String: [RouteSettings]], queue: QueueConfiguration) {
            self.routes = routes
            self.queue = queue
        }

        var jobTypes: [String: QueueConfiguration.JobTypeSettings] { queue.jobTypes }

        func maxAttempts(type: String, queue name: String) -> Int { queue.maxAttempts(type: type, queue: name) }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The jobs `delivery` becomes, one per route of its topic, in route order.
    public func jobs(for delivery: Delivery, now: Int64 = WallClock.nowMillis()) throws(RoutingError) -> [JobEnvelope] {
        try route(delivery, now: now).jobs
    }

    /// A delivery's jobs, and the key that makes its fan-out happen once (``onceTopics``).
    public struct Routed: Sendable {
        public var jobs: [JobEnvelope]
        /// `once:order.created:727` for a topic whose event happens once per resource; `nil` for others. The
        /// intake, the catch-up after a webhook outage and the order sweep claim it before they enqueue, so the
        /// same order never fans out twice within `webhooks.deliveryRetention`, whichever path saw it first.
        public var onceKey: String?
    }

    /// Topics whose event happens once per resource: a second sighting (a late delivery after a catch-up, a
    /// sweep after a delivery) is the same event, not a new one.
    public static let onceTopics: Set<String> = ["order.created"]

    public func route(_ delivery: Delivery, now: Int64 = WallClock.nowMillis()) throws(RoutingError) -> Routed {
        let resource = try WooResource(body: delivery.body)
        try resource.check(fits: delivery.topic)
        guard let routes = configuration.routes[delivery.topic], !routes.isEmpty else {
            throw .noRoute(topic: delivery.topic, known: configuration.routes.keys.sorted())
        }
        let onceKey = Self.onceTopics.contains(delivery.topic) ? resource.id.map { "once:\(delivery.topic):\($0)" } : nil
        return Routed(jobs: routes.map { job(for: delivery, resource: resource, route: $0, now: now) }, onceKey: onceKey)
    }

    /// The job of one route for a delivery of `resource`.
    func job(for delivery: Delivery, resource: WooResource, route: RouteSettings, now: Int64) -> JobEnvelope {
        var job = routedJob(route, payload: payload(route.payload, delivery: delivery, resource: resource), now: now,
                            key: resource.key(topic: delivery.topic), source: source(of: delivery))
        if let id = resource.id, coalescingTopics.contains(where: { $0.hasPrefix(resourceName(delivery.topic) + ".") }) {
            // Per resource (product 794), newest state by WooCommerce's own modification time, not arrival.
            // Jobs of routes that do not merge (the deletion) still carry the key, to end the merge window.
            job.coalescing = .init(key: "\(resourceName(delivery.topic)):\(id)", version: resource.modifiedGMT ?? "", merges: route.coalesce)
        }
        return job
    }

    /// A job of `route` with its configured attempts and delay.
    func routedJob(_ route: RouteSettings, payload: [UInt8], now: Int64, key: String?, source: String) -> JobEnvelope {
        JobEnvelope(type: route.type, queue: route.queue, payload: payload,
                    maxAttempts: configuration.maxAttempts(type: route.type, queue: route.queue), enqueuedAt: now,
                    runAt: route.delay > .zero ? now + route.delay.milliseconds : nil, key: key, source: source)
    }

    /// `woocommerce:product.updated:<delivery id>`, `reconcile:product.updated`.
    func source(of delivery: Delivery) -> String {
        [delivery.origin, delivery.topic, delivery.deliveryID].compactMap { $0 }.joined(separator: ":")
    }

    /// Topics with a merging route: their resource's other jobs carry the key too.
    private var coalescingTopics: [String] {
        configuration.routes.filter { $0.value.contains(where: \.coalesce) }.map(\.key)
    }

    private func resourceName(_ topic: String) -> String {
        String(topic.split(separator: ".").first ?? "item")
    }

    private func payload(_ shape: RouteSettings.Payload, delivery: Delivery, resource: WooResource) -> [UInt8] {
        switch shape {
        case .resource: delivery.body
        case .erpOrder: resource.erpOrder()
        case .orderStock: resource.orderStock()
        }
    }
}
