public import Inventory
import QueueCore
import Routing
public import WooCommerceAPI
import WooCommerceModel

extension WooCommerceClient: ProductSource {}

/// A product or variation read from the store, with the exact bytes it came in.
struct CatalogueItem: Sendable {
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
    /// The jobs of one page of store items (``jobs(forStorePage:origin:page:)``).
    func jobs(for items: [CatalogueItem], origin: String, page: Int) throws -> [JobEnvelope] {
        try jobs(forStorePage: items.map(\.body), origin: origin, page: page)
    }
}

extension WooCommerceError: ProductSourceError {
    public var isNotFound: Bool {
        if case .notFound = self { return true }
        return false
    }

    public var isPermanent: Bool {
        switch self {
        case .certificate, .unreadableCAFile: true
        default: false
        }
    }
}
