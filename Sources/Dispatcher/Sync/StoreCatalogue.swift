import Inventory
import QueueCore
import WooCommerceAPI

extension WooCommerceClient: ProductSource {}

/// A product or variation read from the store, with the exact bytes it came in.
struct CatalogueItem {
    let body: [UInt8]
    let product: Product
}

extension WooCommerceClient {
    /// One page of products with the variations of its variable products after each of them, so a parent is
    /// enqueued before its variations.
    func catalogue(page: Int, query: ProductQuery = ProductQuery()) async throws -> (items: [CatalogueItem], page: Page) {
        let listed = try await products(page: page, query: query)
        var items: [CatalogueItem] = []
        for body in listed.items {
            guard let product = try? Product(json: body) else { continue }
            items.append(CatalogueItem(body: body, product: product))
            if product.isVariable {
                for variation in try await allVariations(of: product.id, query: query) {
                    if let parsed = try? Product(json: variation) { items.append(CatalogueItem(body: variation, product: parsed)) }
                }
            }
        }
        return (items, listed)
    }
}

extension DeliveryRouter {
    /// The jobs of one page of store items, routed as `product.updated` deliveries would be, except that a route
    /// of inventory upserts (a type with the `inventory` handler, the product as payload) gets one job for the
    /// whole page, `{"products": […]}`: a hundred products cost one job, and one that fails continues as a job
    /// of its own (``InventoryHandler``).
    func jobs(for items: [CatalogueItem], origin: String, page: Int) throws -> [JobEnvelope] {
        let topic = "product.updated"
        guard let routes = configuration.routes[topic], !routes.isEmpty else {
            throw RoutingError.noRoute(topic: topic, known: configuration.routes.keys.sorted())
        }
        if items.isEmpty { return [] }
        let now = WallClock.nowMillis()
        var resources: [WooResource]?  // read once, for the routes that get a job per product
        var jobs: [JobEnvelope] = []
        for route in routes {
            if route.payload == .resource, configuration.jobTypes[route.type]?.handler == .inventory {
                let source = source(of: Delivery(topic: topic, deliveryID: "page-\(page)", body: [], origin: origin))
                jobs.append(routedJob(route, payload: ProductPage.payload(items.map(\.body)), now: now,
                                      key: "page \(page) (\(items.count) products)", source: source))
            } else {
                if resources == nil { resources = try items.map { try WooResource(body: $0.body) } }
                for (item, resource) in zip(items, resources ?? []) {
                    let delivery = Delivery(topic: topic, deliveryID: nil, body: item.body, origin: origin)
                    jobs.append(job(for: delivery, resource: resource, route: route, now: now))
                }
            }
        }
        return jobs
    }
}

extension WooCommerceError: ProductSourceError {
    public var isNotFound: Bool {
        if case .notFound = self { return true }
        return false
    }
}
