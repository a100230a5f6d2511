import AppConfiguration
import Foundation
import Inventory
import Logging
import MetricsTestKit
import PostgresClient
import QueueCore
import TestSupport
import Workers

/// A worker harness with an inventory table of its own: a fresh schema for the table and one for wooqueue's
/// bookkeeping, dropped by ``cleanup()``.
struct InventoryHarness {
    let workers: WorkerHarness
    /// What the inventory handler reports through swift-metrics.
    let metrics = TestMetrics()
    let database: PostgresConnection
    let tableSchema: String
    let stateSchema: String

    var configuration: WooqueueConfiguration { workers.configuration }
    var table: String { "\"\(tableSchema)\".inv_items" }

    /// - Parameters:
    ///   - deletion: `soft` or `hard`.
    ///   - createTable: SQL creating `{table}` (replaced by the table's name) before migrating, as an ERP would have it;
    ///     `nil` lets `migrate` create it.
    ///   - rows: SQL run after creating the table and before migrating (existing ERP rows).
    ///   - migrate: run the migration.
    ///   - retryAfter: the first retry's backoff (`backoff.base`), when not the default.
    init(deletion: String = "soft", batchSize: Int = 500, createTable: String? = nil, rows: String? = nil, migrate: Bool = true,
         retryAfter: String? = nil) async throws {
        let suffix = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
        tableSchema = "erp_\(suffix)"
        stateSchema = "wq_\(suffix)"
        workers = try WorkerHarness("""
            {"database": {"url": "\(TestEnvironment.databaseURL)"},\(retryAfter.map { #" "backoff": {"base": "\#($0)"},"# } ?? "")
             "inventory": {"table": "\(tableSchema).inv_items", "stateSchema": "\(stateSchema)", "deletion": "\(deletion)", "batchSize": \(batchSize)}}
            """, name: "inventory")
        database = PostgresConnection(url: TestEnvironment.databaseURL, label: "test")
        try await database.withSession { [tableSchema] session in
            try session.execute("SET client_min_messages = warning; CREATE SCHEMA \"\(tableSchema)\"")
        }
        if let createTable { try await execute(createTable.replacingOccurrences(of: "{table}", with: table)) }
        if let rows { try await execute(rows.replacingOccurrences(of: "{table}", with: table)) }
        if migrate { _ = try await InventorySchema(settings: configuration.inventory).migrate(on: database) }
    }

    /// Runs `body` with a new harness and cleans up after it, also when it throws.
    static func with(deletion: String = "soft", batchSize: Int = 500, createTable: String? = nil, rows: String? = nil,
                     migrate: Bool = true, retryAfter: String? = nil, _ body: (InventoryHarness) async throws -> Void) async throws {
        let harness = try await InventoryHarness(deletion: deletion, batchSize: batchSize, createTable: createTable, rows: rows,
                                                 migrate: migrate, retryAfter: retryAfter)
        do {
            try await body(harness)
        } catch {
            try? await harness.cleanup()
            throw error
        }
        try await harness.cleanup()
    }

    func execute(_ sql: String) async throws {
        try await database.withSession { try $0.execute(sql) }
    }

    /// The configured handlers plus the inventory handler (no REST source).
    func registry() throws -> HandlerRegistry {
        var kinds = HandlerKinds.builtIn
        var logger = Logger(label: "test.inventory")
        logger.logLevel = .warning
        try kinds.registerInventory(configuration: configuration, source: nil, counters: workers.store, metrics: metrics, logger: logger)
        return try kinds.registry(for: configuration.jobTypes)
    }

    func writer() -> InventoryWriter {
        InventoryWriter(connection: PostgresConnection(url: TestEnvironment.databaseURL, label: "writer"), settings: configuration.inventory)
    }

    /// An upsert job for a product payload.
    func upsert(_ payload: [UInt8], type: String = "inventory.upsert") -> JobEnvelope {
        var job = workers.job(type)
        job.payload = payload
        return job
    }

    func delete(id: Int64) -> JobEnvelope {
        workers.job("inventory.delete", payload: #"{"id":\#(id)}"#)
    }

    /// Enqueues `jobs`, runs a worker process until `bulk` has `done` finished jobs and `dead` dead letters.
    func process(_ jobs: [JobEnvelope], done: Int? = nil, dead: Int = 0, timeout: Duration = .seconds(30)) async throws {
        let before = try await workers.queue("bulk")
        _ = try await workers.store.enqueue(jobs)
        try await workers.run(registry: try registry()) { _ in
            try await workers.waitFor("bulk", done: before.done + (done ?? jobs.count - dead), dead: before.dead + dead, timeout: timeout)
        }
    }

    /// Rows of the table by `item`, each column's text value.
    func rows() async throws -> [String: [String: String?]] {
        let result = try await database.query("SELECT * FROM \(table)")
        var rows: [String: [String: String?]] = [:]
        for row in result.rows {
            var values: [String: String?] = [:]
            for (column, value) in zip(result.columns, row) { values[column] = value }
            rows[(values["item"] ?? nil) ?? ""] = values
        }
        return rows
    }

    /// Rows matching `whereClause`. Asked again once when the connection was cut (a PostgreSQL restart).
    func count(_ whereClause: String = "TRUE") async throws -> Int {
        let sql = "SELECT count(*) FROM \(table) WHERE \(whereClause)"
        let result: PostgresRows
        do {
            result = try await database.query(sql)
        } catch let error as PostgresError where error.isUnavailable {
            result = try await database.query(sql)
        }
        return Int(result.scalar ?? "0") ?? 0
    }

    func totals() async throws -> [String: Int] {
        try await workers.store.counts(scope: "inventory")
    }

    func cleanup() async throws {
        try await execute("SET client_min_messages = warning; DROP SCHEMA \"\(tableSchema)\" CASCADE; DROP SCHEMA IF EXISTS \"\(stateSchema)\" CASCADE")
        await database.close()
        try await workers.cleanup()
    }
}

/// Fixture products with members changed, for tests.
enum ProductJSON {
    static func fixture(_ name: String, _ changes: [String: Any] = [:]) throws -> [UInt8] {
        var object = try JSONSerialization.jsonObject(with: Data(try Fixtures.bytes(name))) as! [String: Any]
        for (key, value) in changes { object[key] = value }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }
}
