/// Reads products from the store as they are now (the WooCommerce REST API), for `stock_sync` and for variations
/// whose parent has not been synced yet.
public protocol ProductSource: Sendable {
    /// The product, or with `parentID` the variation, as the store returns it: JSON bytes.
    func product(id: Int64, parentID: Int64?) async throws -> [UInt8]
}

/// An error of a ``ProductSource`` that can say the product does not exist (any more), or that no retry can help
/// until a setting changes (the store's certificate is not trusted).
public protocol ProductSourceError: Error {
    var isNotFound: Bool { get }
    var isPermanent: Bool { get }
}
