/// One entry of `config.json`'s `routes`: a job a delivery of a topic becomes.

public struct RouteSettings: Sendable, Equatable {
    /// What a routed job carries.
    public enum Payload: String, Sendable, CaseIterable {
        /// The delivered resource as it is (a product, an order).
        case resource
        /// For the ERP: order number, total, currency and items (sku, qty, total).
        case erpOrder = "erp_order"
        /// For `stock_sync`: the order's products and variations (ids and SKUs).
        case orderStock = "order_stock"
    }
    public var type: String
    /// The type's queue unless the route names another.
    public var queue: String
    public var delay: Duration
    public var payload: Payload
    /// Waiting jobs of this route for the same resource merge, keeping the newest `date_modified_gmt`.
    public var coalesce: Bool

    public init(type: String, queue: String, delay: Duration, payload: Payload, coalesce: Bool) {
        self.type = type
        self.queue = queue
        self.delay = delay
        self.payload = payload
        self.coalesce = coalesce
    }
}
