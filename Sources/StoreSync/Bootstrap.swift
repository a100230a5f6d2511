public import Inventory
public import QueueCore
public import Routing
public import WooCommerceAPI
import WooCommerceModel

/// Compares the store's catalogue with `inv_items` and enqueues upserts for what the table lacks
/// (`wooqueue bootstrap`), page by page.
///
/// Resumable: after each page, the next page, the counts so far and the SKUs seen are kept in Redis (the
/// `bootstrap` task's resumable run); run again after an interruption and it goes on from the page it was at.
/// Products are listed by id, so pages stay stable while it runs. Pages are fetched several at once
/// (``CataloguePages``) but processed, and the cursor moved, in order: the cursor is always the lowest page
/// not yet finished.
public struct Bootstrap: Sendable {
    public struct Options: Sendable {
        /// Jobs per enqueue round trip.
        public var batch: Int
        /// Enqueue every product, not only the missing ones.
        public var all: Bool
        /// Apply the deletion mode to rows the store no longer has.
        public var deleteOrphans: Bool
        /// Forget an unfinished run and start at page 1.
        public var restart: Bool
        /// Pages asked for at once (``CataloguePages``); nil: `woocommerce.pagesInFlight`.
        public var pagesInFlight: Int?

        public init(batch: Int = 500, all: Bool = false, deleteOrphans: Bool = false, restart: Bool = false, pagesInFlight: Int? = nil) {
            self.batch = batch
            self.all = all
            self.deleteOrphans = deleteOrphans
            self.restart = restart
            self.pagesInFlight = pagesInFlight
        }
    }

    public struct Report: Sendable, Equatable, Encodable {
        /// `X-WP-Total` of the products listing (variations not included).
        public var storeProducts = 0
        /// Products and variations read.
        public var storeItems = 0
        public var tableRows = 0
        /// Items with a SKU the table does not have.
        public var missing = 0
        /// Products and variations enqueued (parents of missing variations included).
        public var enqueued = 0
        /// Jobs they went in: one per page for inventory upserts (``DeliveryRouter/jobs(for:origin:page:)``).
        public var jobs = 0
        public var skippedNoSKU = 0
        /// Table rows whose SKU the store does not have.
        public var orphans = 0
        public var orphansRemoved = 0
        public var pages = 0
        /// The page an unfinished earlier run was resumed at; nil for a fresh run.
        public var resumedAtPage: Int?

        /// One line for people: what the store has, what the table has, what was enqueued.
        public var summary: String {
            "\(storeProducts) store products, \(tableRows) table rows, \(missing) missing, \(enqueued) enqueued in \(jobs) jobs, \(skippedNoSKU) without SKU, \(orphans) orphans"
        }
    }

    let client: WooCommerceClient
    let store: QueueStore
    let writer: InventoryWriter
    let router: DeliveryRouter

    /// - Parameter task: names the run's resumable state in Redis: `bootstrap`, or `deletion-sweep` for the
    ///   comparison `reconcile --deletions` runs, so neither resumes or clears the other's unfinished run.
    public init(client: WooCommerceClient, store: QueueStore, writer: InventoryWriter, routing: DeliveryRouter.Configuration,
                task: String = "bootstrap") {
        self.client = client
        self.store = store
        self.writer = writer
        self.router = DeliveryRouter(configuration: routing)
        self.task = task
    }

    let task: String

    /// An unfinished run is kept for a week: long enough to resume, not for ever.
    static let cursorRetention: Duration = .seconds(7 * 86_400)

    /// The run's cursor and the SKUs it has seen (task `bootstrap`, members `skus`: README, Redis keys).
    var run: ResumableRun { store.resumableRun(task, members: "skus") }

    /// Runs (or resumes) the comparison; `progress` gets one line per page.
    public func run(_ options: Options, progress: @Sendable (String) -> Void) async throws -> Report {
        let run = self.run
        if options.restart { try await run.clear() }
        var report = Report()
        var page = 1
        let fields = try await run.fields()
        if !fields.isEmpty {
            page = fields["next_page"] ?? 1
            report.storeItems = fields["store_items"] ?? 0
            report.missing = fields["missing"] ?? 0
            report.enqueued = fields["enqueued"] ?? 0
            report.jobs = fields["jobs"] ?? 0
            report.skippedNoSKU = fields["skipped_no_sku"] ?? 0
            report.pages = page - 1
            report.resumedAtPage = page
            progress("resuming an unfinished bootstrap at page \(page) (run with --restart to start over)")
        }
        let pages = CataloguePages(client: client, from: page, width: options.pagesInFlight ?? client.settings.pagesInFlight)
        defer { pages.cancel() }
        while true {
            let (items, listed) = try await pages.page(page)
            report.storeProducts = listed.total ?? report.storeProducts
            if listed.items.isEmpty { break }
            try await process(items, page: page, options: options, report: &report)
            report.pages = page
            try await run.save([("next_page", page + 1), ("store_items", report.storeItems), ("missing", report.missing),
                                ("enqueued", report.enqueued), ("jobs", report.jobs), ("skipped_no_sku", report.skippedNoSKU)],
                               retention: Self.cursorRetention)
            let totalPages = listed.totalPages.map { "/\($0)" } ?? ""
            progress("page \(page)\(totalPages): \(items.count) products and variations, \(report.missing) missing so far, \(report.enqueued) enqueued")
            if !listed.hasMore(after: page) { break }
            page += 1
        }
        let seen = try await run.seen()
        let tableKeys = try await writer.skuKeys()
        report.tableRows = tableKeys.count
        let orphans = tableKeys.filter { !seen.contains($0) }
        report.orphans = orphans.count
        if options.deleteOrphans, !orphans.isEmpty {
            report.orphansRemoved = try await writer.removeRows(skuKeys: orphans)
            // Removed rows count as deletions in the inventory totals, as the handler's do (`status`, /admin).
            try await store.addCounts([(InventoryHandler.Count.deleted.rawValue, report.orphansRemoved)], scope: "inventory")
        }
        try await run.clear()
        return report
    }

    private func process(_ items: [CatalogueItem], page: Int, options: Options, report: inout Report) async throws {
        report.storeItems += items.count
        var keys: [String] = []
        for item in items {
            if let sku = item.product.sku, let key = SKU.key(sku) { keys.append(key) } else { report.skippedNoSKU += 1 }
        }
        try await run.addSeen(keys)
        let existing = try await writer.existingSKUKeys(keys)
        var chosen: [CatalogueItem] = []
        var parentsTaken = Set<Int64>()
        let byID = Dictionary(items.map { ($0.product.id, $0) }, uniquingKeysWith: { first, _ in first })
        for item in items {
            guard let sku = item.product.sku, let key = SKU.key(sku) else { continue }
            let isMissing = !existing.contains(key)
            if isMissing { report.missing += 1 }
            guard options.all || isMissing else { continue }
            // A variation is written with its parent's name and category: send the parent along.
            if item.product.isVariation, let parent = byID[item.product.parentID], parentsTaken.insert(parent.product.id).inserted,
               !chosen.contains(where: { $0.product.id == parent.product.id }) {
                chosen.append(parent)
            }
            if !chosen.contains(where: { $0.product.id == item.product.id }) { chosen.append(item) }
        }
        let jobs = try router.jobs(for: chosen, origin: "bootstrap", page: page)
        var offset = 0
        while offset < jobs.count {
            let slice = Array(jobs[offset..<min(offset + options.batch, jobs.count)])
            try await store.enqueue(slice)
            offset += slice.count
        }
        report.enqueued += chosen.count
        report.jobs += jobs.count
    }
}
