public import Foundation
public import Logging
public import QueueCore
public import Routing
public import ServiceLifecycle
public import WooCommerceAPI

/// Catches what webhooks missed (WooCommerce never retries a failed delivery): lists the products modified since
/// the last sweep and routes them like `product.updated` deliveries (newer-state checks make repeats harmless),
/// and the orders created since then like `order.created` deliveries, each once (``OrderSweep``).
public struct Reconciler: Sendable {
    public struct Report: Sendable, Equatable, Encodable {
        /// `date_modified_gmt` lower bound used.
        public var since: String
        /// Products and variations listed as modified.
        public var changed = 0
        public var enqueued = 0
        public var pages = 0
        /// The orders' part; `nil` when `order.created` is not routed.
        public var orders: OrderSweep.Report?
    }

    /// Sweeps overlap by this much, so a product saved while the previous sweep ran is not missed.
    static let overlap: TimeInterval = 60

    let client: WooCommerceClient
    let store: QueueStore
    let router: DeliveryRouter
    public let orders: OrderSweep

    /// - Parameter orderRetention: how long a routed order is remembered (`webhooks.deliveryRetention`).
    public init(client: WooCommerceClient, store: QueueStore, routing: DeliveryRouter.Configuration,
                orderRetention: Duration = .seconds(86_400)) {
        self.client = client
        self.store = store
        self.router = DeliveryRouter(configuration: routing)
        self.orders = OrderSweep(client: client, store: store, routing: routing, retention: orderRetention)
    }

    /// The sweeps' shared state (task `reconcile`): the last sweep's start and the lease of the current one.
    var task: PeriodicTask { store.periodicTask("reconcile") }

    /// When the last sweep started (minus the overlap), as WooCommerce writes GMT times; nil before the first.
    public func lastSweep() async throws -> String? {
        try await task.lastMark()
    }

    /// Sweeps products modified after `since` (default: the last sweep), and orders created since then; records
    /// this sweep's start for the next. `withOrders: false` leaves the orders out and records nothing (a
    /// catch-up of products alone, which must not move the periodic sweep's mark).
    public func run(since: String? = nil, withOrders: Bool = true, progress: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        let started = Date()
        let recorded = since == nil ? try await lastSweep() : nil
        guard let since = since ?? recorded else { throw ReconcileError.noEarlierSweep }
        var report = Report(since: since)
        var page = 1
        while true {
            let (items, listed) = try await client.catalogue(page: page, query: .init(modifiedAfter: since))
            if listed.items.isEmpty { break }
            let jobs = try router.jobs(for: items, origin: "reconcile", page: page)
            try await store.enqueue(jobs)
            report.changed += items.count
            report.enqueued += jobs.count
            report.pages = page
            progress("page \(page)\(listed.totalPages.map { "/\($0)" } ?? ""): \(items.count) changed products and variations")
            if !listed.hasMore(after: page) { break }
            page += 1
        }
        guard withOrders else { return report }
        if orders.isRouted {
            // Orders are swept from the first sweep that knew them (an upgrade, or order.created newly routed) on:
            // deliveries before then were claimed by body, not by order id, and must not fan out again.
            if let from = try await task.notes("orders")["from"] {
                report.orders = try await orders.run(since: max(since, from), origin: "reconcile", progress: progress)
            } else {
                try await task.setNote("orders", name: "from", text: Self.gmt(started))
            }
        }
        try await record(started)
        return report
    }

    /// Records `date` (minus the overlap) as the next sweep's lower bound.
    public func record(_ date: Date) async throws {
        try await task.setLastMark(Self.gmt(date.addingTimeInterval(-Self.overlap)))
    }

    /// `2026-11-23T10:00:00`: UTC without a zone, as WooCommerce's `*_gmt` fields.
    public static func gmt(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}

public enum ReconcileError: Error, CustomStringConvertible, Sendable {
    case noEarlierSweep

    public var description: String {
        "no earlier sweep is recorded: pass --since 2026-11-01T00:00:00 (GMT), or run `wooqueue bootstrap` for the whole catalogue"
    }
}

/// Runs the reconcile sweep every `woocommerce.reconcileInterval` inside `serve`. With several `serve` processes,
/// a lock in Redis lets one of them sweep per interval.
public struct ReconcileService: Service {
    let reconciler: Reconciler
    let interval: Duration
    let logger: Logger

    public init(reconciler: Reconciler, interval: Duration, logger: Logger) {
        self.reconciler = reconciler
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await runLeased(reconciler.task, every: interval, what: "The reconcile sweep", logger: logger) { try await self.sweep() }
    }

    private func sweep() async throws {
        guard try await reconciler.lastSweep() != nil else {
            // The first sweep only marks the start: what came before is bootstrap's job.
            try await reconciler.record(Date())
            logger.notice("Reconcile sweeps start now; run `wooqueue bootstrap` once for the existing catalogue")
            return
        }
        let report = try await reconciler.run()
        logger.info("Reconcile sweep done", metadata: [
            "since": "\(report.since)", "changed": "\(report.changed)", "enqueued": "\(report.enqueued)",
            "orders.routed": "\(report.orders?.routed ?? 0)", "orders.already_routed": "\(report.orders?.alreadyRouted ?? 0)",
        ])
    }
}
