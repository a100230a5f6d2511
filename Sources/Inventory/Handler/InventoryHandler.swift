public import CoreMetrics
public import Logging
import Parsing
import PostgresClient
public import QueueCore
import Synchronization
import WooCommerceModel
public import Workers

/// The handler of the `inventory` and `stock_sync` kinds: writes products to `inv_items` in batches, applies
/// deletions, re-reads ordered products for `stock_sync`.
///
/// What a job does is its type's declaration, not its name (``HandlerKinds/registerInventory(queue:database:inventory:source:counters:metrics:logger:)``):
/// a type of kind `inventory` with `"operation": "upsert"` writes the product in its payload, or each product of a
/// page `{"products": […]}` (as `bootstrap` enqueues the catalogue); with `"operation": "delete"` it deletes (payload
/// `{"id": N}`); a type of kind `stock_sync` re-reads the products of an order (payload from the `order_stock`
/// route). Every such type shares this one handler, so the worker hands a batch of them to one call. The batch is
/// split into runs of one operation, written in order, so a deletion between two updates of a product stays
/// between them.
public final class InventoryHandler: BatchJobHandler {
    public let batchLimit: Int
    /// One per worker that may call at once, each with its own PostgreSQL and Redis connections, so one
    /// worker's statement runs in PostgreSQL while another reads and maps its next batch.
    let lanes: [Lane]
    /// The lanes no call is using. A call takes one for its whole batch and gives it back, so concurrent calls
    /// never queue behind each other on one connection while another connection idles.
    private let idleLanes: Mutex<[Lane]>
    private let nextShared = Atomic<Int>(0)
    let source: (any ProductSource)?
    let logger: Logger
    /// ``ProcessMetric/inventoryRows``, the same counts as the running totals in Redis.
    private let rows: CounterFamily
    /// Job type → what its jobs do, as the registration declared them.
    private let operations = Mutex<[String: Operation]>([:])

    /// A writer and the connection its running totals go through (the `inventory` counters).
    struct Lane: Sendable {
        let writer: InventoryWriter
        let counters: QueueStore?
    }

    /// - Parameters:
    ///   - writers: the table's writers, one per worker that may call at once (at least one).
    ///   - batchLimit: `inventory.batchSize`.
    ///   - source: the store's REST API, when configured; `stock_sync` needs it.
    ///   - counters: where the running totals go (the `inventory` counters); each further writer gets a connection
    ///     of its own to it.
    ///   - metrics: where ``ProcessMetric/inventoryRows`` goes.
    public init(writers: [InventoryWriter], batchLimit: Int, source: (any ProductSource)?, counters: QueueStore?,
                metrics: any MetricsFactory = MetricsSystem.factory, logger: Logger) {
        precondition(!writers.isEmpty, "an inventory handler needs a writer")
        lanes = writers.enumerated().map { index, writer in
            Lane(writer: writer, counters: index == 0 ? counters : counters?.withNewConnection(label: "inventory-totals-\(index)"))
        }
        idleLanes = Mutex(lanes.reversed())
        self.batchLimit = batchLimit
        self.source = source
        self.logger = logger
        rows = CounterFamily(.inventoryRows, labels: ["outcome"], factory: metrics)
    }

    /// Running totals, named as in the `inventory` counters.
    public enum Count: String, CaseIterable, Sendable {
        case written, skippedOlder = "skipped_older", skippedNoSKU = "skipped_no_sku", truncated, rejected, deleted
        case deleteNotFound = "delete_not_found"
    }

    enum Operation: String, Equatable, Sendable {
        case upsert, delete
        case stockSync = "stock_sync"
    }

    /// Declares what the jobs of `type` do.
    func assign(_ operation: Operation, to type: String) {
        operations.withLock { $0[type] = operation }
    }

    public func handle(batch: [JobContext]) async throws -> [JobResult] {
        let (lane, owned) = takeLane()
        defer { if owned { idleLanes.withLock { $0.append(lane) } } }
        let writer = lane.writer
        var results: [JobResult] = []
        results.reserveCapacity(batch.count)
        var counts: [Count: Int] = [:]
        let operations = self.operations.withLock { $0 }
        // Only registered types reach this handler, and registering assigns each its operation.
        func operationOf(_ job: JobContext) -> Operation { operations[job.envelope.type] ?? .upsert }
        var start = 0
        while start < batch.count {
            let operation = operationOf(batch[start])
            var end = start + 1
            while end < batch.count, operationOf(batch[end]) == operation { end += 1 }
            let run = Array(batch[start..<end])
            do {
                switch operation {
                case .upsert: results += try await upsertJobs(run, writer: writer, counts: &counts)
                case .delete: results += try await delete(run, writer: writer, counts: &counts)
                case .stockSync: results += try await stockSync(run, writer: writer, counts: &counts)
                }
            } catch {
                // This run and every later one wait: running later ones now could reorder a product's changes.
                let failure = Self.failure(error)
                results += Array(repeating: .failed(failure), count: batch.count - start)
                break
            }
            start = end
        }
        await record(counts, through: lane.counters)
        return results
    }

    /// An idle lane, owned until given back; or, when more calls run than there are lanes, a shared one (safe:
    /// each connection runs one command at a time; only slower).
    private func takeLane() -> (Lane, owned: Bool) {
        if let idle = idleLanes.withLock({ $0.popLast() }) { return (idle, true) }
        return (lanes[nextShared.wrappingAdd(1, ordering: .relaxed).oldValue % lanes.count], false)
    }

    // MARK: - Upserts

    /// Upserts the products of `jobs`, all in one write. A job of one product gets that product's result; a
    /// ``ProductPage`` job is done when all its products are, and otherwise hands each failed product back as a
    /// job of its own (``JobResult/split(_:)``), so one bad product of a page is retried or dead-lettered alone.
    private func upsertJobs(_ jobs: [JobContext], writer: InventoryWriter, counts: inout [Count: Int]) async throws -> [JobResult] {
        var results = [JobResult?](repeating: nil, count: jobs.count)
        var items: [Result<Product, JobFailure>] = []
        var owners: [(job: Int, bytes: Range<Int>?)] = []
        for (index, job) in jobs.enumerated() {
            switch job.readAhead as? ReadProducts ?? Self.read(job.envelope) {
            case .product(let product):
                items.append(product)
                owners.append((index, nil))
            case .page(let listed):
                items += listed.map(\.product)
                owners += listed.map { (index, $0.bytes) }
            case .notAPage(let failure):
                results[index] = .failed(failure)
            }
        }
        let written = try await upsert(items, writer: writer, counts: &counts)
        var parts = [[JobPart]](repeating: [], count: jobs.count)
        for ((owner, bytes), (product, result)) in zip(owners, zip(items, written)) {
            guard let bytes else {
                results[owner] = result
                continue
            }
            guard case .failed(let failure) = result else { continue }
            let productKey = (try? product.get()).map { $0.sku ?? "product:\($0.id)" }
            parts[owner].append(JobPart(payload: Array(jobs[owner].envelope.payload[bytes]), key: productKey, failure: failure))
        }
        return results.enumerated().map { index, result in
            result ?? (parts[index].isEmpty ? .done : .split(parts[index]))
        }
    }

    /// The products of an upsert job, read from its payload.
    enum ReadProducts: Sendable {
        /// A job of one product.
        case product(Result<Product, JobFailure>)
        /// A page job: each product with where it sits in the payload (a failed one becomes a job of its own).
        case page([(bytes: Range<Int>, product: Result<Product, JobFailure>)])
        /// A payload that starts like a page but is not one.
        case notAPage(JobFailure)
    }

    /// Reads an upsert job's products while the worker's previous call runs.
    public func readAhead(_ job: JobContext) -> (any Sendable)? {
        operations.withLock { $0[job.envelope.type] } == .upsert ? Self.read(job.envelope) : nil
    }

    static func read(_ envelope: JobEnvelope) -> ReadProducts {
        let payload = envelope.payload
        guard let list = ProductPage.list(in: payload) else { return .product(product(payload, type: envelope.type)) }
        do {
            return .page(try ProductPage.products(in: payload, list: list).map { ($0.bytes, $0.product.mapError { notAProduct($0, type: envelope.type) }) })
        } catch {
            return .notAPage(.permanent("payload of \(envelope.type) starts like a page of products but is not {\"products\": [product, …]} (\(error))"))
        }
    }

    private static func product(_ payload: [UInt8], type: String) -> Result<Product, JobFailure> {
        do {
            return .success(try Product(json: payload))
        } catch {
            return .failure(notAProduct(error, type: type))
        }
    }

    private static func notAProduct(_ error: ProductError, type: String) -> JobFailure {
        .permanent("payload of \(type) is \(error)")
    }

    private func upsert(_ read: [Result<Product, JobFailure>], writer: InventoryWriter,
                        counts: inout [Count: Int]) async throws -> [JobResult] {
        var results = [JobResult?](repeating: nil, count: read.count)
        var upserts: [(index: Int, upsert: InventoryWriter.Upsert)] = []
        upserts.reserveCapacity(read.count)
        // The batch's products by id, for variations whose parent is in the batch: only when it has variations.
        var products: [Int64: Product] = [:]
        if read.contains(where: { (try? $0.get())?.isVariation == true }) {
            for case .success(let product) in read { products[product.id] = product }
        }
        let missingParents = Set(products.values.filter { $0.isVariation && products[$0.parentID] == nil }.map(\.parentID))
        var parents = try await writer.parents(ids: missingParents)
        for id in missingParents where parents[id] == nil {
            if let fetched = try await fetchParent(id) { parents[id] = fetched }
        }
        for (index, product) in read.enumerated() {
            switch product {
            case .failure(let failure): results[index] = .failed(failure)
            case .success(let product):
                var parent: ParentProduct?
                if product.isVariation {
                    parent = products[product.parentID].map { ParentProduct(name: $0.name, imageURL: $0.imageURL, categoryID: $0.categoryID) }
                        ?? parents[product.parentID]
                    if parent == nil {
                        results[index] = .failed(.transient("variation \(product.id): its parent product \(product.parentID) has not been synced yet and the store's REST API is not configured (woocommerce.url) to read it; retried with backoff, or sync the parent first"))
                        continue
                    }
                }
                upserts.append((index, InventoryWriter.Upsert(product: product, parent: parent)))
            }
        }
        let written = try await writer.upsert(upserts.map(\.upsert))
        for ((index, upsert), result) in zip(upserts, written) {
            let product = upsert.product
            switch result {
            case .written(let truncated):
                counts[.written, default: 0] += 1
                counts[.truncated, default: 0] += truncated
                results[index] = .done
            case .older:
                counts[.skippedOlder, default: 0] += 1
                results[index] = .skipped("not written: \(writer.names.table) already has this or a newer state of product \(product.id) (date_modified_gmt \(product.modifiedGMT ?? "missing"))")
            case .noSKU:
                counts[.skippedNoSKU, default: 0] += 1
                results[index] = .skipped("not written: product \(product.id) has no SKU; give it one in WooCommerce to sync it")
            case .rejected(let message):
                counts[.rejected, default: 0] += 1
                results[index] = .failed(.permanent("PostgreSQL rejected product \(product.id) (SKU \(product.sku ?? "")): \(message)"))
            }
        }
        return results.map { $0 ?? .failed(.transient("not processed")) }
    }

    private func fetchParent(_ id: Int64) async throws -> ParentProduct? {
        guard let source else { return nil }
        let parent = try Product(json: try await source.product(id: id, parentID: nil))
        return ParentProduct(name: parent.name, imageURL: parent.imageURL, categoryID: parent.categoryID)
    }

    // MARK: - Deletions

    private func delete(_ jobs: [JobContext], writer: InventoryWriter, counts: inout [Count: Int]) async throws -> [JobResult] {
        let ids = jobs.map { (try? Product(json: $0.envelope.payload))?.id }
        let found = try await writer.delete(ids: ids.compactMap { $0 })
        var foundByID: [Int64: Bool] = [:]
        for (id, wasFound) in zip(ids.compactMap { $0 }, found) { foundByID[id] = wasFound }
        return ids.map { id in
            guard let id else { return .failed(.permanent("inventory.delete needs a payload {\"id\": <WooCommerce product id>}")) }
            if foundByID[id] == true {
                counts[.deleted, default: 0] += 1
                return .done
            }
            counts[.deleteNotFound, default: 0] += 1
            return .skipped("no row of \(writer.names.table) belongs to product \(id) (by SKU or id_altek); marked deleted in the bookkeeping")
        }
    }

    // MARK: - Stock from orders

    /// Re-reads the ordered products from the store and writes their whole state, stock included: an absolute
    /// value, so running a job twice does no harm. The products of all the run's orders go in one write.
    private func stockSync(_ jobs: [JobContext], writer: InventoryWriter, counts: inout [Count: Int]) async throws -> [JobResult] {
        guard let source else {
            return jobs.map { _ in .failed(.permanent("stock_sync reads the ordered products from the store's REST API: set woocommerce.url, consumerKey and consumerSecret (or WOOQUEUE_WOO_URL, _KEY, _SECRET), then retry this job from the dead-letter list")) }
        }
        var results = [JobResult?](repeating: nil, count: jobs.count)
        var fetched: [Result<Product, JobFailure>] = []
        var owners: [Int] = []  // the job (index in `jobs`) of each fetched product
        for (index, job) in jobs.enumerated() {
            guard case .array(let items)? = try? JSONValue.parse(job.envelope.payload)["items"] else {
                results[index] = .failed(.permanent("stock_sync payload is not an object with an \"items\" list (the order_stock route payload)"))
                continue
            }
            // The store failing for one order fails that job only; the database failing stops the run.
            do {
                let products = try await readProducts(items, from: source)
                fetched += products
                owners += Array(repeating: index, count: products.count)
            } catch {
                results[index] = .failed(Self.failure(error))
            }
        }
        let written = try await upsert(fetched, writer: writer, counts: &counts)
        for (owner, result) in zip(owners, written) where results[owner] == nil {
            if case .failed = result { results[owner] = result }
        }
        return results.map { $0 ?? .done }
    }

    /// The ordered products and variations as the store has them now; ones deleted since are left out.
    private func readProducts(_ items: [JSONValue], from source: any ProductSource) async throws -> [Result<Product, JobFailure>] {
        var fetched: [Result<Product, JobFailure>] = []
        for item in items {
            guard let productID = Self.integer(item["product_id"]), productID > 0 else { continue }
            let variationID = Self.integer(item["variation_id"]) ?? 0
            let bytes: [UInt8]
            do {
                bytes = variationID > 0
                    ? try await source.product(id: variationID, parentID: productID)
                    : try await source.product(id: productID, parentID: nil)
            } catch let error as any ProductSourceError where error.isNotFound {
                continue  // deleted since the order: its product.deleted delivery deals with the row
            } catch let error as any ProductSourceError where error.isPermanent {
                throw JobFailure.permanent("\(error)")
            }
            do {
                fetched.append(.success(try Product(json: bytes)))
            } catch {
                fetched.append(.failure(.transient("the store returned something other than a product for \(variationID > 0 ? variationID : productID): \(error)")))
            }
        }
        return fetched
    }

    private static func integer(_ value: JSONValue?) -> Int64? {
        guard case .number(let number)? = value, abs(number) < 1e15 else { return nil }
        return Int64(exactly: number)
    }

    // MARK: - Failures and counts

    static func failure(_ error: any Error) -> JobFailure {
        switch error {
        case let failure as JobFailure: failure
        case InventoryWriteError.unavailable(let error): .dependencyUnavailable("\(error)")
        case InventoryWriteError.setup(let message): .dependencyUnavailable("the inventory database needs attention: \(message)")
        case let error as InventoryWriteError: .transient("\(error)")
        default: .transient("\(error)")
        }
    }

    private func record(_ counts: [Count: Int], through counters: QueueStore?) async {
        for (count, value) in counts where value > 0 { rows.increment([count.rawValue], by: value) }
        guard let counters, !counts.isEmpty else { return }
        do {
            try await counters.addCounts(counts.map { ($0.key.rawValue, $0.value) }, scope: "inventory")
        } catch {
            logger.warning("Could not add to the inventory totals in Redis", metadata: ["error": "\(error)"])
        }
    }
}

extension HandlerKinds {
    /// Registers the kinds `inventory` (setting `operation`: `upsert`, the default, or `delete`) and `stock_sync`.
    /// All their types share one ``InventoryHandler``, with a PostgreSQL connection (with
    /// `inventory.statementTimeout`) per worker of the queues those types run on. Nothing connects until the first
    /// job. Metrics go to `metrics` (swift-metrics' bootstrapped system by default).
    public mutating func registerInventory(queue configuration: QueueConfiguration, database: DatabaseSettings, inventory: InventorySettings,
                                           source: (any ProductSource)?,
                                           counters: QueueStore?, metrics: any MetricsFactory = MetricsSystem.factory, logger: Logger) throws {
        let kinds: Set<String> = ["inventory", "stock_sync"]
        let queues = Set(configuration.jobTypes.values.filter { kinds.contains($0.handler) }.map(\.queue))
        let workers = configuration.queues.filter { queues.contains($0.name) }.reduce(0) { $0 + $1.workers }
        let writers = (0..<max(1, workers)).map { index in
            InventoryWriter(
                connection: PostgresConnection(
                    url: database.url, label: "inventory-\(index)",
                    settings: ["statement_timeout": "\(inventory.statementTimeout.milliseconds)ms"]),
                settings: inventory, metrics: metrics)
        }
        let handler = InventoryHandler(writers: writers, batchLimit: inventory.batchSize, source: source,
                                       counters: counters, metrics: metrics, logger: logger)
        try register("inventory", settings: ["operation"]) { spec in
            let name = try spec.settings.child("operation").string(default: "upsert")
            guard let operation = InventoryHandler.Operation(rawValue: name), operation != .stockSync else {
                throw ConfigurationError("\(spec.settings.path).operation must be \"upsert\" or \"delete\", got \"\(name)\"")
            }
            handler.assign(operation, to: spec.type)
            return handler
        }
        try register("stock_sync") { spec in
            handler.assign(.stockSync, to: spec.type)
            return handler
        }
    }
}
