public import QueueCore
public import Routing
public import WooCommerceAPI

/// Routes the orders created since a point in time, each like an `order.created` delivery, and each once: for
/// the catch-up after a webhook outage and for the periodic sweep.
///
/// Which orders count: `processing` (paid, to fulfil), `on-hold` (placed, awaiting an offline payment such as a
/// bank transfer) and `completed` (paid and fulfilled by the time the sweep sees it). Their `order.created`
/// deliveries are the ones the e-mail, ERP, invoice and analytics jobs exist for. Left out: `checkout-draft`
/// (a block checkout's cart, not an order yet), `pending` (payment not made: abandoned and failed checkouts),
/// `failed`, `cancelled`, `refunded` and `trash`.
///
/// Exactly once: each order's ``DeliveryRouter/Routed/onceKey`` is claimed before its jobs are written, the key the
/// intake claims for a delivery of the same order. The sweep claims for a short lease, then marks the claim as
/// stored for `retention` once the jobs are in Redis: a sweep that died between the two leaves a lease that
/// expires, and a later sweep routes the order then.
public struct OrderSweep: Sendable {
    public struct Report: Sendable, Equatable, Encodable {
        /// The lower bound used (`date_created_gmt`).
        public var since: String
        public var listed = 0
        /// Orders whose jobs this sweep wrote.
        public var routed = 0
        /// Orders a delivery or an earlier sweep had routed already.
        public var alreadyRouted = 0
        /// Orders whose body the router refused (named in the log of the caller).
        public var unroutable = 0
        public var pages = 0
    }

    public static let statuses = ["processing", "on-hold", "completed"]
    /// How long a sweep's claim holds before its jobs are written.
    static let lease: Duration = .seconds(300)

    let client: WooCommerceClient
    let store: QueueStore
    let router: DeliveryRouter
    let retention: Duration
    /// Whether `order.created` is routed at all; without a route there is nothing to sweep.
    public let isRouted: Bool

    /// - Parameter retention: how long a routed order is remembered (`webhooks.deliveryRetention`).
    public init(client: WooCommerceClient, store: QueueStore, routing: DeliveryRouter.Configuration, retention: Duration) {
        self.client = client
        self.store = store
        self.router = DeliveryRouter(configuration: routing)
        self.retention = retention
        self.isRouted = routing.routes["order.created"]?.isEmpty == false
    }

    /// Routes the orders created after `since` (ISO time, GMT), page by page, oldest first; `origin` names the
    /// path in the jobs' `source` (`catch-up`, `reconcile`).
    public func run(since: String, origin: String, progress: (String) -> Void = { _ in }) async throws -> Report {
        var report = Report(since: since)
        guard isRouted else { return report }
        var page = 1
        while true {
            let result = try await client.orders(createdAfterGMT: since, statuses: Self.statuses, page: page)
            report.pages += 1
            report.listed += result.items.count
            var batch: [(QueueStore.DeliveryClaim, [JobEnvelope])] = []
            for order in result.items {
                guard let routed = try? router.route(Delivery(topic: "order.created", deliveryID: nil, body: order, origin: origin)),
                      let key = routed.onceKey else {
                    report.unroutable += 1
                    continue
                }
                batch.append((QueueStore.DeliveryClaim(key: key, token: JobID.make()), routed.jobs))
            }
            let states = try await store.claimDeliveries(batch.map(\.0), retention: Self.lease)
            let fresh = zip(batch, states).filter { $0.1 == .new }.map(\.0)
            try await store.enqueue(fresh.flatMap(\.1))
            try await store.confirmDeliveries(fresh.map(\.0), retention: retention, always: true)
            report.routed += fresh.count
            report.alreadyRouted += batch.count - fresh.count
            progress("orders page \(page): \(result.items.count) listed, \(fresh.count) routed")
            if result.items.isEmpty || !result.hasMore(after: page) { return report }
            page += 1
        }
    }
}
