public import CoreMetrics
public import PostgresClient
import QueueCore
import Synchronization
public import WooCommerceModel

/// Writes products to `inv_items` in batches and applies deletions, keeping wooqueue's bookkeeping in step.
///
/// A batch of upserts is one statement (arrays through `unnest`, prepared once per connection, one round trip,
/// atomic). Before it, the batch is cut to the newest state per product and per normalized SKU (in Swift, so the
/// database sorts nothing). The statement records each product in the bookkeeping table only if its
/// `date_modified_gmt` is newer than the stored one (equal too, unless the product was deleted since) — the guard
/// is the `WHERE` of `ON CONFLICT DO UPDATE`, so it holds against concurrent workers — and upserts the recorded
/// ones by the normalized SKU, leaving rows whose values are unchanged untouched. A statement the database rejects
/// for its data is split in halves until the rejected products are alone; the others are committed.
public final class InventoryWriter: Sendable {
    public let connection: PostgresConnection
    public let names: InventoryNames
    public let deletion: InventorySettings.DeletionMode
    /// Most products per statement (`inventory.batchSize`).
    public let batchSize: Int
    private let shape = Mutex<Statements?>(nil)
    /// ``ProcessMetric/inventoryBatchDuration``.
    private let statementTime: TimerFamily

    public init(connection: PostgresConnection, settings: InventorySettings,
                metrics: any MetricsFactory = MetricsSystem.factory) {
        self.connection = connection
        self.names = InventoryNames(settings: settings)
        self.deletion = settings.deletion
        self.batchSize = max(1, settings.batchSize)
        statementTime = TimerFamily(.inventoryBatchDuration, labels: [], factory: metrics)
    }

    /// A product to write, with its parent when it is a variation.
    public struct Upsert: Sendable {
        public var product: Product
        public var parent: ParentProduct?

        public init(product: Product, parent: ParentProduct? = nil) {
            self.product = product
            self.parent = parent
        }
    }

    public enum UpsertResult: Sendable, Equatable {
        /// In the table now; `truncated` values were cut to fit their columns.
        case written(truncated: Int)
        /// Not written: the table has an equal or newer state of the product (or a newer one came in this batch).
        case older
        /// Not written: the product has no SKU (recorded in the bookkeeping, so its variations find its name).
        case noSKU
        /// The database refused this product (its message); the other products of the batch were written.
        case rejected(String)
    }

    /// Writes a batch, in statements of at most ``batchSize`` products, each its own transaction; returns one
    /// result per item, in order. Throws when a statement could not be tried at all: PostgreSQL unreachable
    /// (``PostgresError/isUnavailable``), or an error that no product can be blamed for (``InventoryWriteError``).
    /// Statements committed before stay committed: writing the batch again is harmless.
    public func upsert(_ batch: [Upsert]) async throws -> [UpsertResult] {
        var results: [UpsertResult] = []
        results.reserveCapacity(batch.count)
        for start in stride(from: 0, to: batch.count, by: batchSize) {
            results += try await upsertStatement(Array(batch[start..<min(start + batchSize, batch.count)]))
        }
        return results
    }

    private func upsertStatement(_ batch: [Upsert]) async throws -> [UpsertResult] {
        if batch.isEmpty { return [] }
        let statements = try await prepared()
        var results = [UpsertResult?](repeating: nil, count: batch.count)
        var rows: [Int: InventoryRow] = [:]
        var truncations = [Int](repeating: 0, count: batch.count)
        var skuKeys = [String?](repeating: nil, count: batch.count)  // SKU.key of each mapped row, computed once
        var parameters = UpsertParameters(columns: statements.table.columns.map(\.0), capacity: batch.count)
        for (index, upsert) in batch.enumerated() {
            var row = InventoryRow(upsert.product, parent: upsert.parent)
            if var mapped = row {
                if let itemLimit = statements.table.column(.item)?.maxLength, (mapped[.item]?.unicodeScalars.count ?? 0) > itemLimit {
                    results[index] = .rejected("SKU \"\(mapped[.item] ?? "")\" is longer than \(names.table).item (\(itemLimit) characters); it cannot be stored without changing it")
                    continue
                }
                for (column, shape) in statements.table.columns {
                    guard let limit = shape.maxLength, let value = mapped[column], let cut = value.truncated(toScalars: limit) else { continue }
                    mapped[column] = cut
                    truncations[index] += 1
                }
                row = mapped
                rows[index] = mapped
                skuKeys[index] = mapped[.item].flatMap(SKU.key)
            }
            parameters.append(upsert: upsert, row: row, skuKey: skuKeys[index])
        }
        let pending = Self.newest(Array(0..<batch.count).filter { results[$0] == nil }, batch: batch, skuKeys: skuKeys)
        let written = try await write(pending, parameters: parameters, statements: statements, results: &results)
        for index in pending where results[index] == nil {
            if rows[index] == nil {
                results[index] = .noSKU
            } else {
                results[index] = written.contains(batch[index].product.id) ? .written(truncated: truncations[index]) : .older
            }
        }
        return results.map { $0 ?? .older }
    }

    /// Of `indexes`, the newest state of each product and then of each normalized SKU (by `date_modified_gmt`,
    /// the later in the batch on a tie); the others are older states, never written. So the statement gets each
    /// id and each SKU once, as `ON CONFLICT` requires, without sorting in the database.
    static func newest(_ indexes: [Int], batch: [Upsert], skuKeys: [String?]) -> [Int] {
        func isNewer(_ index: Int, than other: Int) -> Bool {
            let modified = batch[index].product.modifiedGMT ?? "", otherModified = batch[other].product.modifiedGMT ?? ""
            return modified != otherModified ? modified > otherModified : index > other
        }
        func keepNewest<Key: Hashable>(_ indexes: [Int], by key: (Int) -> Key) -> [Int] {
            var newest: [Key: Int] = [:]
            newest.reserveCapacity(indexes.count)
            for index in indexes {
                let key = key(index)
                if let kept = newest[key], !isNewer(index, than: kept) { continue }
                newest[key] = index
            }
            return newest.count == indexes.count ? indexes : indexes.filter { newest[key($0)] == $0 }
        }
        enum Identity: Hashable { case sku(String), product(Int64) }
        let byProduct = keepNewest(indexes) { batch[$0].product.id }
        return keepNewest(byProduct) { index in
            skuKeys[index].map(Identity.sku) ?? .product(batch[index].product.id)
        }
    }

    /// Runs the statement for `indexes`; on a data error, halves them until the culprits are alone. Returns the
    /// WooCommerce ids whose state was recorded (written, or recorded without a SKU).
    private func write(_ indexes: [Int], parameters: UpsertParameters, statements: Statements,
                       results: inout [UpsertResult?]) async throws -> Set<Int64> {
        if indexes.isEmpty { return [] }
        do {
            let started = ContinuousClock.now
            let rows = try await connection.query(prepared: "wooqueue_inventory_upsert", statements.upsert, parameters.values(for: indexes))
            statementTime.record([], started.duration(to: .now))
            return Set(rows.rows.compactMap { $0[0].flatMap { Int64($0) } })
        } catch let error as PostgresError {
            guard Self.blamesData(error) else { throw InventoryWriteError.classify(error) }
            if indexes.count == 1 {
                results[indexes[0]] = .rejected(error.description)
                return []
            }
            let middle = indexes.count / 2
            let first = try await write(Array(indexes[..<middle]), parameters: parameters, statements: statements, results: &results)
            let second = try await write(Array(indexes[middle...]), parameters: parameters, statements: statements, results: &results)
            return first.union(second)
        }
    }

    /// True for errors caused by the values of some row (bad number, constraint, too long), which bisection can
    /// pin on a product; false for outages, timeouts, locks and setup errors, which concern the whole batch.
    static func blamesData(_ error: PostgresError) -> Bool {
        guard error.kind == .server, !error.isUnavailable, let state = error.sqlState else { return false }
        return [.dataException, .integrityConstraintViolation, .plpgsqlError].contains(state.errorClass) || state == .internalError
    }

    /// Deletes (or, in soft mode, blocks and zeroes) the rows of these WooCommerce ids, found through the
    /// bookkeeping's SKU or `id_altek`. Returns, per id, whether a row was changed.
    public func delete(ids: [Int64]) async throws -> [Bool] {
        if ids.isEmpty { return [] }
        let statements = try await prepared()
        var array = PostgresArray()
        ids.forEach { array.append(String($0)) }
        do {
            let found = try await connection.query(statements.delete, [array.literal])
            let changed = Set(found.rows.compactMap { $0[0].flatMap { Int64($0) } })
            return ids.map { changed.contains($0) }
        } catch let error as PostgresError {
            throw InventoryWriteError.classify(error)
        }
    }

    /// Applies the deletion mode to rows found by normalized SKU (`SKU.key`): orphans the store no longer has.
    /// Returns the rows changed.
    public func removeRows(skuKeys: [String]) async throws -> Int {
        if skuKeys.isEmpty { return 0 }
        let statements = try await prepared()
        var array = PostgresArray()
        skuKeys.forEach { array.append($0) }
        do {
            return try await connection.query(statements.removeBySKU, [array.literal]).affectedRows
        } catch let error as PostgresError {
            throw InventoryWriteError.classify(error)
        }
    }

    /// The table's rows.
    public func rowCount() async throws -> Int {
        Int(try await connection.query("SELECT count(*) FROM \(names.table)").scalar ?? "0") ?? 0
    }

    /// Every normalized SKU in the table (for comparisons with the store).
    public func skuKeys() async throws -> [String] {
        try await connection.query("SELECT \(names.skuKey)(item) FROM \(names.table) WHERE \(names.skuKey)(item) IS NOT NULL").rows.compactMap { $0[0] }
    }

    /// Which of `keys` (normalized SKUs) the table has.
    public func existingSKUKeys(_ keys: [String]) async throws -> Set<String> {
        if keys.isEmpty { return [] }
        var array = PostgresArray()
        keys.forEach { array.append($0) }
        let found = try await connection.query(
            "SELECT \(names.skuKey)(item) FROM \(names.table) WHERE \(names.skuKey)(item) = ANY($1::text[])", [array.literal])
        return Set(found.rows.compactMap { $0[0] })
    }

    /// Parents as recorded in the bookkeeping, for variations whose parent is not in their batch.
    public func parents(ids: Set<Int64>) async throws -> [Int64: ParentProduct] {
        if ids.isEmpty { return [:] }
        var array = PostgresArray()
        ids.sorted().forEach { array.append(String($0)) }
        do {
            let found = try await connection.query(
                "SELECT woo_id, name, image, category_id FROM \(names.syncState) WHERE woo_id = ANY($1::int8[])", [array.literal])
            var parents: [Int64: ParentProduct] = [:]
            for row in found.rows {
                guard let id = row[0].flatMap({ Int64($0) }) else { continue }
                parents[id] = ParentProduct(name: row[1], imageURL: row[2], categoryID: row[3].flatMap { Int64($0) })
            }
            return parents
        } catch let error as PostgresError {
            throw InventoryWriteError.classify(error)
        }
    }

    // MARK: - Statements

    /// The statements for the table's actual columns, built once the table has been read.
    struct Statements: Sendable {
        let table: InventoryTable
        let upsert: String
        let delete: String
        let removeBySKU: String
    }

    private func prepared() async throws -> Statements {
        if let statements = shape.withLock({ $0 }) { return statements }
        let names = self.names
        let table: InventoryTable
        do {
            table = try await connection.withSession { try InventoryTable.load($0, names: names) }
        } catch let error as PostgresError {
            throw InventoryWriteError.classify(error)
        } catch let error as InventorySchemaError {
            throw InventoryWriteError.setup(error.description)
        }
        if deletion == .soft, table.column(.bloqueado) == nil {
            throw InventoryWriteError.setup("inventory.deletion is \"soft\" but \(names.table) has no column bloqueado; set it to \"hard\" or add the column")
        }
        let statements = Statements(table: table, upsert: InventorySQL.upsert(table), delete: InventorySQL.delete(table, mode: deletion),
                                    removeBySKU: InventorySQL.removeBySKU(table, mode: deletion))
        shape.withLock { $0 = statements }
        return statements
    }
}

/// The arrays of one upsert statement: bookkeeping fields, then one array per mapped column.
struct UpsertParameters: Sendable {
    let columns: [InventoryColumn]
    /// Per batch index: woo id, parent id, modified, normalized SKU, name, image, category, then the columns' values.
    private var fields: [[String?]] = []

    init(columns: [InventoryColumn], capacity: Int) {
        self.columns = columns
        fields.reserveCapacity(capacity)
    }

    mutating func append(upsert: InventoryWriter.Upsert, row: InventoryRow?, skuKey: String?) {
        let product = upsert.product
        var values: [String?] = [
            String(product.id), String(product.parentID), product.modifiedGMT ?? "-infinity", skuKey,
            product.name, product.imageURL ?? upsert.parent?.imageURL, product.categoryID.map(String.init),
        ]
        values.reserveCapacity(values.count + columns.count)
        for column in columns { values.append(row?[column]) }
        fields.append(values)
    }

    /// The statement's parameters (array literals) for these batch indexes.
    func values(for indexes: [Int]) -> [String?] {
        let width = fields.first?.count ?? 0
        var arrays = (0..<width).map { _ in PostgresArray(capacity: indexes.count * 16) }
        for index in indexes {
            for (position, value) in fields[index].enumerated() { arrays[position].append(value) }
        }
        return arrays.map(\.literal)
    }
}

/// Errors that concern a whole batch, each mapped to the job failure class it calls for.
public enum InventoryWriteError: Error, CustomStringConvertible, Sendable {
    /// PostgreSQL is unreachable or restarting: the jobs wait without losing an attempt.
    case unavailable(PostgresError)
    /// The database setup is wrong (missing table or grant): the jobs wait, without losing an attempt, until an
    /// operator fixes it.
    case setup(String)
    /// A timeout, lock or serialization conflict: the batch is retried with backoff.
    case transient(PostgresError)

    public var description: String {
        switch self {
        case .unavailable(let error): "\(error)"
        case .setup(let message): "the inventory database needs attention: \(message)"
        case .transient(let error): "\(error)"
        }
    }

    static func classify(_ error: PostgresError) -> InventoryWriteError {
        if error.isUnavailable { return .unavailable(error) }
        guard let state = error.sqlState else { return .transient(error) }
        let setupClasses: [SQLState.Class] = [.syntaxErrorOrAccessRuleViolation, .invalidCatalogName, .invalidSchemaName,
                                              .invalidAuthorization, .featureNotSupported]
        if setupClasses.contains(state.errorClass) {
            return .setup("\(error) (check the table, `wooqueue migrate`, and the role's grants)")
        }
        return .transient(error)
    }
}
