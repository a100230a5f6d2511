import ArgumentParser
import Foundation
import Inventory
import Logging
import PostgresClient
import QueueCore
import Workers

/// `wooqueue bench inventory`: rows per second through the bulk path, next to COPY and one statement per product.
struct BenchInventory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Measure the bulk path into inv_items against plain COPY and one statement per product.",
        discussion: """
            In a schema of its own (dropped afterwards) on the configured database, with keys of its own in Redis:
            1. parse: reads every WooCommerce product body and maps it (no I/O), to show what parsing costs;
            2. insert: --rows inventory.upsert jobs are queued, then a bulk worker runs them (batches of \
            inventory.batchSize) until every row is committed: queued jobs → committed rows;
            3. update: the same products again with a newer date_modified_gmt and new stock;
            4. COPY: the same rows, mapped up front, with COPY into the emptied table (the index kept);
            5. per statement: one autocommit INSERT … ON CONFLICT DO UPDATE per product, as the reference plugin does.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Products per phase.")
    var rows: Int = 100_000

    @Option(name: .long, help: "Bulk workers in the benchmark's worker process (each with its own PostgreSQL connection); default: the bulk queue's configured workers.")
    var workers: Int?

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    mutating func validate() throws {
        guard rows >= 1 else { throw ValidationError("--rows must be ≥ 1") }
        if let workers, workers < 1 { throw ValidationError("--workers must be ≥ 1") }
    }

    func run() async throws {
        var configuration = try global.load()
        let suffix = "\(getpid())"
        configuration.redis.keyPrefix = "wqbench-inventory-\(suffix)"
        configuration.inventory.table = "wqbench_\(suffix).inv_items"
        configuration.inventory.stateSchema = "wqbench_\(suffix)_state"
        let bulk = configuration.jobTypes["inventory.upsert"]?.queue ?? "bulk"
        if let workers, let index = configuration.queues.firstIndex(where: { $0.name == bulk }) {
            configuration.queues[index].workers = workers
        }
        let store = try configuration.makeStore(label: "bench")
        let database = PostgresConnection(url: configuration.database.url, label: "bench")
        let schema = InventorySchema(settings: configuration.inventory)
        do {
            try await measure(configuration, store: store, database: database, schema: schema)
        } catch {
            try? await cleanUp(store: store, database: database, schema: schema)
            throw error
        }
        try await cleanUp(store: store, database: database, schema: schema)
    }

    private func cleanUp(store: QueueStore, database: PostgresConnection, schema: InventorySchema) async throws {
        _ = try await store.deleteAllKeys()
        _ = try await database.withSession { session in
            try session.execute("SET client_min_messages = warning; DROP SCHEMA IF EXISTS \(InventoryNames.quote(schema.names.tableSchema)) CASCADE; DROP SCHEMA IF EXISTS \(schema.names.state) CASCADE")
        }
    }

    private func measure(_ configuration: WooqueueConfiguration, store: QueueStore, database: PostgresConnection, schema: InventorySchema) async throws {
        let progress = Progress()
        let names = schema.names
        _ = try await schema.migrate(on: database)
        let bulk = configuration.jobTypes["inventory.upsert"]?.queue ?? "bulk"
        let bulkWorkers = configuration.queue(named: bulk)?.workers ?? 1

        // 1. Parsing and mapping alone.
        progress.say("preparing \(rows) product bodies…")
        let bodies = (0..<rows).map { BenchProducts.body(index: $0, stock: $0 % 1000) }
        let parseStart = ContinuousClock.now
        var mapped: [InventoryRow] = []
        mapped.reserveCapacity(rows)
        for body in bodies { if let row = InventoryRow(try Product(json: body)) { mapped.append(row) } }
        let parseTime = parseStart.duration(to: .now)

        // 2. and 3. The bulk path: queued jobs → committed rows.
        let insertTime = try await bulkPath(configuration, store: store, queue: bulk, bodies: bodies, progress: progress, phase: "insert")
        let inserted = try await count(database, names.table)
        let updates = (0..<rows).map { BenchProducts.body(index: $0, modified: "2026-11-21T09:00:00", stock: $0 % 1000 + 1) }
        let updateTime = try await bulkPath(configuration, store: store, queue: bulk, bodies: updates, progress: progress, phase: "update")
        let updated = try await count(database, "\(names.table) WHERE existencia = (substr(item, 7)::int % 1000) + 1")
        guard inserted == rows, updated == rows else {
            throw ValidationError("the bulk path left \(inserted) rows after the insert and \(updated) updated rows, expected \(rows) each")
        }

        // 4. COPY of the same rows.
        let table = try await database.withSession { try InventoryTable.load($0, names: names) }
        let columns = table.columns.map(\.0)
        progress.say("COPY of \(rows) rows…")
        try await database.query("TRUNCATE \(names.table)")
        let copyData = Self.copyText(mapped, columns: columns)
        let copyStart = ContinuousClock.now
        let copied = try await database.withSession {
            try $0.copyIn("COPY \(names.table) (\(columns.map(\.rawValue).joined(separator: ", "))) FROM STDIN", data: copyData)
        }
        let copyTime = copyStart.duration(to: .now)

        // 5. One autocommit statement per product.
        progress.say("one statement per product, \(rows) products…")
        try await database.query("TRUNCATE \(names.table)")
        let single = Self.singleRowUpsert(table)
        let perRowStart = ContinuousClock.now
        try await database.withSession { [mapped] session in
            for row in mapped { try session.query(single, columns.map { row[$0] }) }
        }
        let perRowTime = perRowStart.duration(to: .now)

        let result = InventoryBenchResult(
            rows: rows, batchSize: configuration.inventory.batchSize, bulkWorkers: bulkWorkers,
            parseRowsPerS: Double(rows) / parseTime.seconds,
            bulkInsertRowsPerS: Double(rows) / insertTime.seconds,
            bulkUpdateRowsPerS: Double(rows) / updateTime.seconds,
            copyRowsPerS: Double(copied) / copyTime.seconds,
            perStatementRowsPerS: Double(rows) / perRowTime.seconds,
            peakRssMb: BenchWorkers.peakRSSMegabytes())
        if json {
            print(try StatusPrinter.json(result))
        } else {
            print(String(format: """
                rows:                  %d per phase (batches of %d, %d bulk workers)
                parse + map only:      %.0f products/s (no I/O)
                bulk path, insert:     %.0f rows/s  (%.0f%% of COPY, %.1f× one statement per product)
                bulk path, update:     %.0f rows/s  (%.0f%% of COPY, %.1f× one statement per product)
                COPY:                  %.0f rows/s
                one statement per row: %.0f rows/s
                peak RSS:              %.1f MB
                """, rows, result.batchSize, bulkWorkers, result.parseRowsPerS,
                result.bulkInsertRowsPerS, 100 * result.bulkInsertRowsPerS / result.copyRowsPerS, result.bulkInsertRowsPerS / result.perStatementRowsPerS,
                result.bulkUpdateRowsPerS, 100 * result.bulkUpdateRowsPerS / result.copyRowsPerS, result.bulkUpdateRowsPerS / result.perStatementRowsPerS,
                result.copyRowsPerS, result.perStatementRowsPerS, result.peakRssMb))
        }
    }

    /// Queues `bodies` as upsert jobs, then times a bulk worker process until all are settled.
    private func bulkPath(_ configuration: WooqueueConfiguration, store: QueueStore, queue: String, bodies: [[UInt8]],
                          progress: Progress, phase: String) async throws -> Duration {
        progress.say("\(phase): queueing \(bodies.count) inventory.upsert jobs…")
        var offset = 0
        while offset < bodies.count {
            let now = WallClock.nowMillis()
            let slice = bodies[offset..<min(offset + 5000, bodies.count)]
            try await store.enqueue(slice.map { JobEnvelope(type: "inventory.upsert", queue: queue, payload: $0, maxAttempts: 2, enqueuedAt: now, source: "bench") }, now: now)
            offset += slice.count
        }
        progress.say("\(phase): running the bulk worker…")
        let observer = BenchObserver()
        var logger = global.logger("bench")
        logger.logLevel = .warning
        let process = try WorkerProcess(configuration: configuration, registry: try configuration.makeRegistry(logger: logger),
                                        options: .init(queues: [queue]), observer: observer, logger: logger)
        let start = ContinuousClock.now
        let running = Task { try await process.run() }
        try await observer.waitForSettled(bodies.count, timeout: .seconds(1800), progress: progress)
        let took = start.duration(to: .now)
        process.requestStop()
        try await running.value
        let dead = try await store.snapshot(queues: configuration.queues, latestEvents: 0).queues.first { $0.name == queue }?.dead ?? 0
        guard dead == 0 else { throw ValidationError("\(dead) jobs were dead-lettered during the \(phase) phase; see `wooqueue dlq list`") }
        return took
    }

    private func count(_ database: PostgresConnection, _ from: String) async throws -> Int {
        Int(try await database.query("SELECT count(*) FROM \(from)").scalar ?? "0") ?? 0
    }

    /// COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
    static func copyText(_ rows: [InventoryRow], columns: [InventoryColumn]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(rows.count * 200)
        for row in rows {
            for (position, column) in columns.enumerated() {
                if position > 0 { bytes.append(0x09) }
                guard let value = row[column] else { bytes += Array(#"\N"#.utf8); continue }
                for byte in value.utf8 {
                    switch byte {
                    case 0x5C: bytes += [0x5C, 0x5C]
                    case 0x09: bytes += [0x5C, UInt8(ascii: "t")]
                    case 0x0A: bytes += [0x5C, UInt8(ascii: "n")]
                    case 0x0D: bytes += [0x5C, UInt8(ascii: "r")]
                    default: bytes.append(byte)
                    }
                }
            }
            bytes.append(0x0A)
        }
        return bytes
    }

    /// The reference plugin's way: one parameterised upsert per product, each its own transaction.
    static func singleRowUpsert(_ table: InventoryTable) -> String {
        let names = table.names
        let columns = table.columns.map(\.0.rawValue)
        let values = table.columns.enumerated().map { "$\($0.offset + 1)::\($0.element.1.type)" }
        let updates = columns.filter { $0 != "item" }.map { "\($0) = EXCLUDED.\($0)" }
        return """
            INSERT INTO \(names.table) (\(columns.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))
            ON CONFLICT ((\(names.skuKey)(item))) DO UPDATE SET \(updates.joined(separator: ", "))
            """
    }
}

struct InventoryBenchResult: Encodable {
    let rows: Int
    let batchSize: Int
    let bulkWorkers: Int
    let parseRowsPerS: Double
    let bulkInsertRowsPerS: Double
    let bulkUpdateRowsPerS: Double
    let copyRowsPerS: Double
    let perStatementRowsPerS: Double
    let peakRssMb: Double
}
