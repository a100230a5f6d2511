import AppConfiguration
import ArgumentParser
import CommandSupport
import Foundation
import Inventory
import Logging
import PostgresClient
import QueueCore
import WooCommerceAPI
import WooCommerceModel
import Workers

/// `wooqueue bench inventory`: rows per second through the bulk path, next to COPY and one statement per product.
struct BenchInventory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Measure the bulk path into inv_items against plain COPY and one statement per product.",
        discussion: """
            In a schema of its own (dropped afterwards) on the configured database, with keys of its own in Redis:
            1. parse: reads every WooCommerce product body and maps it (no I/O), to show what parsing costs;
            2. bulk path, a job per product (as webhooks deliver them): --rows inventory.upsert jobs are queued, \
            then a bulk worker process runs them until every row is committed (queued jobs → committed rows), first \
            into the empty table (insert), then the same products with a newer date_modified_gmt and new stock \
            (update);
            3. the same with a job per page of woocommerce.perPage products (as bootstrap and reconcile enqueue \
            them), into the emptied table;
            4. the writers alone: the bulk path's statements with as many connections as bulk workers, the \
            products parsed up front, no Redis: what the queue and the parsing cost;
            5. COPY: the same rows, mapped up front, with COPY into the emptied table (the index kept);
            6. staged upsert, the fastest way to upsert without a queue: per inventory.batchSize rows, COPY into a \
            temporary table, then INSERT … ON CONFLICT DO UPDATE, no bookkeeping; insert, then update;
            7. per statement: one autocommit INSERT … ON CONFLICT DO UPDATE per product, as the reference plugin does.
            Before the bulk path's and the writers' timings, Redis rewrites the AOF the queueing grew (BGREWRITEAOF, \
            waited for), so no automatic rewrite falls within them. Under each bulk-path and writers-alone rate: the \
            CPU per row of this process (the bulk worker process runs in it), of Redis (INFO cpu), and of the rest of \
            the machine's cores (PostgreSQL, idle time and anything else).
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
        BenchScratch.isolate(&configuration, name: "inventory")
        let bulk = configuration.jobTypes["inventory.upsert"]?.queue ?? "bulk"
        if let workers, let index = configuration.queues.firstIndex(where: { $0.name == bulk }) {
            configuration.queues[index].workers = workers
        }
        try await BenchScratch.with(configuration) { scratch in
            try await measure(configuration, store: scratch.store, database: scratch.database, schema: scratch.schema)
        }
    }

    private func measure(_ configuration: WooqueueConfiguration, store: QueueStore, database: PostgresConnection, schema: InventorySchema) async throws {
        let progress = ProgressLines()
        let names = schema.names
        _ = try await schema.migrate(on: database)
        let bulkQueue = configuration.jobTypes["inventory.upsert"]?.queue ?? "bulk"
        let bulkWorkers = configuration.queue(named: bulkQueue)?.workers ?? 1

        // 1. Parsing and mapping alone.
        progress.say("preparing \(rows) product bodies…")
        let bodies = (0..<rows).map { BenchProducts.body(index: $0, stock: $0 % 1000) }
        let parseStart = ContinuousClock.now
        var mapped: [InventoryRow] = []
        mapped.reserveCapacity(rows)
        for body in bodies { if let row = InventoryRow(try Product(json: body)) { mapped.append(row) } }
        let parseTime = parseStart.duration(to: .now)

        let updates = (0..<rows).map { BenchProducts.body(index: $0, modified: "2026-11-21T09:00:00", stock: $0 % 1000 + 1) }
        // 2. and 3. The bulk path: queued jobs → committed rows, a job per product, then a job per page.
        var bulk: [BulkFigures] = []
        for productsPerJob in [1, configuration.woocommerce.perPage] {
            if !bulk.isEmpty { try await database.query("TRUNCATE \(names.table), \(names.syncState)") }
            let mode = productsPerJob == 1 ? "a job per product" : "a job per page of \(productsPerJob)"
            let insert = try await bulkPath(configuration, store: store, queue: bulkQueue, bodies: bodies, productsPerJob: productsPerJob,
                                                progress: progress, phase: "\(mode), insert")
            let inserted = try await count(database, names.table)
            let update = try await bulkPath(configuration, store: store, queue: bulkQueue, bodies: updates, productsPerJob: productsPerJob,
                                                progress: progress, phase: "\(mode), update")
            let updated = try await count(database, "\(names.table) WHERE existencia = (substr(item, 7)::int % 1000) + 1")
            guard inserted == rows, updated == rows else {
                throw ValidationError("the bulk path (\(mode)) left \(inserted) rows after the insert and \(updated) updated rows, expected \(rows) each")
            }
            bulk.append(BulkFigures(productsPerJob: productsPerJob, insertRowsPerS: insert.rowsPerS, updateRowsPerS: update.rowsPerS,
                                    insertCpu: insert.cpu, updateCpu: update.cpu))
        }

        // 4. The writers alone: the same products, parsed up front, written by as many connections as bulk workers.
        try await database.query("TRUNCATE \(names.table), \(names.syncState)")
        try await store.settlePersistence(progress: progress)
        progress.say("the writers alone (no queue), insert…")
        let writerInsert = try await writersAlone(configuration, store: store, products: bodies.map { try Product(json: $0) }, writers: bulkWorkers)
        progress.say("the writers alone (no queue), update…")
        let writerUpdate = try await writersAlone(configuration, store: store, products: updates.map { try Product(json: $0) }, writers: bulkWorkers)

        // 5. COPY of the same rows.
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

        // 6. Staged upserts: the ceiling for any upsert, without a queue or bookkeeping.
        try await database.query("TRUNCATE \(names.table)")
        let batchSize = configuration.inventory.batchSize
        progress.say("staged upserts, batches of \(batchSize): insert…")
        let stagedInsert = try await stagedUpsert(database, table: table, rows: mapped, batchSize: batchSize)
        progress.say("staged upserts, batches of \(batchSize): update…")
        let updatedRows = try updates.compactMap { InventoryRow(try Product(json: $0)) }
        let stagedUpdate = try await stagedUpsert(database, table: table, rows: updatedRows, batchSize: batchSize)

        // 7. One autocommit statement per product.
        progress.say("one statement per product, \(rows) products…")
        try await database.query("TRUNCATE \(names.table)")
        let single = Self.singleRowUpsert(table)
        let perRowStart = ContinuousClock.now
        try await database.withSession { [mapped] session in
            for row in mapped { try session.query(single, columns.map { row[$0] }) }
        }
        let perRowTime = perRowStart.duration(to: .now)

        let result = InventoryBenchResult(
            rows: rows, batchSize: batchSize, bulkWorkers: bulkWorkers,
            parseRowsPerS: Double(rows) / parseTime.seconds,
            bulk: bulk,
            writersAloneInsertRowsPerS: writerInsert.rowsPerS,
            writersAloneUpdateRowsPerS: writerUpdate.rowsPerS,
            writersAloneInsertCpu: writerInsert.cpu,
            writersAloneUpdateCpu: writerUpdate.cpu,
            copyRowsPerS: Double(copied) / copyTime.seconds,
            stagedInsertRowsPerS: Double(rows) / stagedInsert.seconds,
            stagedUpdateRowsPerS: Double(rows) / stagedUpdate.seconds,
            perStatementRowsPerS: Double(rows) / perRowTime.seconds,
            peakRssMb: BenchWorkers.peakRSSMegabytes())
        if json {
            print(try JSONOutput.text(result))
        } else {
            print(result.text)
        }
    }

    /// Writes `products` with `writers` ``InventoryWriter``s at once, each taking the next `inventory.batchSize`
    /// products in turn: the bulk path's statements without Redis, parsing or job bookkeeping. Its rate, and the
    /// CPU it took.
    private func writersAlone(_ configuration: WooqueueConfiguration, store: QueueStore, products: [Product], writers: Int) async throws -> PhaseFigures {
        let batchSize = configuration.inventory.batchSize
        let connections = (0..<writers).map { PostgresConnection(url: configuration.database.url, label: "bench-writer-\($0)") }
        let meter = try await PhaseMeter.start(redis: store)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, connection) in connections.enumerated() {
                group.addTask {
                    let writer = InventoryWriter(connection: connection, settings: configuration.inventory)
                    for first in stride(from: index * batchSize, to: products.count, by: writers * batchSize) {
                        let results = try await writer.upsert(products[first..<min(first + batchSize, products.count)].map { InventoryWriter.Upsert(product: $0) })
                        guard results.allSatisfy({ if case .written = $0 { true } else { false } }) else {
                            throw ValidationError("the writers alone did not write every product: \(results.first { if case .written = $0 { false } else { true } }.map { "\($0)" } ?? "")")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let figures = try await meter.stop(rows: products.count)
        for connection in connections { await connection.close() }
        return figures
    }

    /// Per `batchSize` rows, in one transaction: COPY into a temporary table, then INSERT … ON CONFLICT DO UPDATE
    /// into the table. The time it took.
    private func stagedUpsert(_ database: PostgresConnection, table: InventoryTable, rows: [InventoryRow], batchSize: Int) async throws -> Duration {
        let columns = table.columns.map(\.0)
        let names = table.names
        let list = columns.map(\.rawValue).joined(separator: ", ")
        let updates = columns.filter { $0 != .item }.map { "\($0.rawValue) = EXCLUDED.\($0.rawValue)" }.joined(separator: ", ")
        let batches = stride(from: 0, to: rows.count, by: batchSize).map { Self.copyText(Array(rows[$0..<min($0 + batchSize, rows.count)]), columns: columns) }
        try await database.withSession { session in
            try session.execute("SET client_min_messages = warning; CREATE TEMPORARY TABLE IF NOT EXISTS wqbench_stage (LIKE \(names.table) INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        }
        let start = ContinuousClock.now
        try await database.withSession { session in
            for batch in batches {
                try session.execute("BEGIN")
                try session.copyIn("COPY wqbench_stage (\(list)) FROM STDIN", data: batch)
                try session.execute("""
                    INSERT INTO \(names.table) (\(list)) SELECT \(list) FROM wqbench_stage
                    ON CONFLICT ((\(names.skuKey)(item))) DO UPDATE SET \(updates)
                    """)
                try session.execute("COMMIT")
            }
        }
        return start.duration(to: .now)
    }

    /// Queues `bodies` as upsert jobs, then times a bulk worker process until all are settled: its rate in
    /// products, and the CPU it took.
    private func bulkPath(_ configuration: WooqueueConfiguration, store: QueueStore, queue: String, bodies: [[UInt8]],
                          productsPerJob: Int, progress: ProgressLines, phase: String) async throws -> PhaseFigures {
        let payloads: [[UInt8]] = productsPerJob == 1 ? bodies : stride(from: 0, to: bodies.count, by: productsPerJob).map { start in
            ProductPage.payload(bodies[start..<min(start + productsPerJob, bodies.count)])
        }
        progress.say("\(phase): queueing \(payloads.count) inventory.upsert jobs…")
        var offset = 0
        while offset < payloads.count {
            let now = WallClock.nowMillis()
            let slice = payloads[offset..<min(offset + 5000, payloads.count)]
            try await store.enqueue(slice.map { JobEnvelope(type: "inventory.upsert", queue: queue, payload: $0, maxAttempts: 2, enqueuedAt: now, source: "bench") }, now: now)
            offset += slice.count
        }
        try await store.settlePersistence(progress: progress)
        progress.say("\(phase): running the bulk worker…")
        let observer = BenchObserver()
        var logger = global.logger("bench")
        logger.logLevel = .warning
        let process = try WorkerProcess(configuration: configuration, registry: try configuration.makeRegistry(logger: logger),
                                        options: .init(queues: [queue]), observer: observer, logger: logger)
        let meter = try await PhaseMeter.start(redis: store)
        let running = Task { try await process.run() }
        try await observer.waitForSettled(payloads.count, timeout: .seconds(1800), progress: progress)
        let figures = try await meter.stop(rows: bodies.count)
        process.requestStop()
        try await running.value
        let dead = try await store.snapshot(queues: configuration.queues, latestEvents: 0).queues.first { $0.name == queue }?.dead ?? 0
        guard dead == 0 else { throw ValidationError("\(dead) jobs were dead-lettered during the \(phase) phase; see `wooqueue dlq list`") }
        return figures
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

/// The bulk path's rates for one shape of job.
struct BulkFigures: Encodable {
    /// 1: a job per product, as webhooks deliver them; more: a job per catalogue page.
    let productsPerJob: Int
    let insertRowsPerS: Double
    let updateRowsPerS: Double
    let insertCpu: RowCPU
    let updateCpu: RowCPU
}

/// Where a timed phase's CPU went, in microseconds per row.
struct RowCPU: Encodable {
    /// This process: the bulk worker process runs in it, or the writers alone.
    let wooqueueUs: Double
    /// The Redis server (`INFO cpu`).
    let redisUs: Double
    /// The machine's cores over the phase's time, less the two above: PostgreSQL, idle time, and anything else
    /// the machine ran meanwhile.
    let restUs: Double
    let cores: Int

    var text: String {
        String(format: "CPU per row: wooqueue %.1f µs, Redis %.1f µs, the rest of the %d cores %.1f µs (PostgreSQL and idle)",
               wooqueueUs, redisUs, cores, restUs)
    }
}

/// A timed phase's rate and CPU.
struct PhaseFigures {
    let rowsPerS: Double
    let cpu: RowCPU
}

/// Times a phase, with the CPU this process and Redis use meanwhile (read before the clock starts and after it
/// stops, so the reads are not timed).
struct PhaseMeter {
    let store: QueueStore
    let cpu: CPUTimes
    let start: ContinuousClock.Instant

    static func start(redis store: QueueStore) async throws -> PhaseMeter {
        let cpu = try await CPUTimes.read(redis: store)
        return PhaseMeter(store: store, cpu: cpu, start: .now)
    }

    func stop(rows: Int) async throws -> PhaseFigures {
        let seconds = start.duration(to: .now).seconds
        let after = try await CPUTimes.read(redis: store)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let wooqueue = after.process - cpu.process, redis = after.redis - cpu.redis
        let perRow = 1e6 / Double(max(rows, 1))
        return PhaseFigures(rowsPerS: Double(rows) / seconds,
                            cpu: RowCPU(wooqueueUs: wooqueue * perRow, redisUs: redis * perRow,
                                        restUs: max(0, Double(cores) * seconds - wooqueue - redis) * perRow, cores: cores))
    }
}

struct InventoryBenchResult: Encodable {
    let rows: Int
    let batchSize: Int
    let bulkWorkers: Int
    let parseRowsPerS: Double
    let bulk: [BulkFigures]
    /// The bulk path's statements without the queue (``BenchInventory/writersAlone``).
    let writersAloneInsertRowsPerS: Double
    let writersAloneUpdateRowsPerS: Double
    let writersAloneInsertCpu: RowCPU
    let writersAloneUpdateCpu: RowCPU
    let copyRowsPerS: Double
    let stagedInsertRowsPerS: Double
    let stagedUpdateRowsPerS: Double
    let perStatementRowsPerS: Double
    let peakRssMb: Double

    /// The report for people: each rate next to COPY and to one statement per product, and the bulk path's next to
    /// the writers alone.
    var text: String {
        func compared(_ rate: Double) -> String {
            String(format: "%8.0f rows/s  (%2.0f%% of COPY, %4.1f× one statement per product)", rate, 100 * rate / copyRowsPerS, rate / perStatementRowsPerS)
        }
        /// The bulk path next to the same statements without the queue (the target: at least 70 %).
        func share(_ rate: Double, of writers: Double) -> String {
            String(format: "%3.0f%% of the writers alone", 100 * rate / writers)
        }
        var lines = [
            "rows:                    \(rows) per phase (statements of at most \(batchSize) products, \(bulkWorkers) bulk worker\(bulkWorkers == 1 ? "" : "s"))",
            String(format: "parse + map only:        %8.0f products/s (no I/O)", parseRowsPerS),
        ]
        for figures in bulk {
            lines.append(figures.productsPerJob == 1 ? "bulk path, a job per product (as webhooks deliver them):"
                                                     : "bulk path, a job per page of \(figures.productsPerJob) (as bootstrap and reconcile enqueue them):")
            lines.append("  insert:                \(compared(figures.insertRowsPerS))  \(share(figures.insertRowsPerS, of: writersAloneInsertRowsPerS))")
            lines.append("                         \(figures.insertCpu.text)")
            lines.append("  update:                \(compared(figures.updateRowsPerS))  \(share(figures.updateRowsPerS, of: writersAloneUpdateRowsPerS))")
            lines.append("                         \(figures.updateCpu.text)")
        }
        lines += [
            "the writers alone (the same statements, no queue, products parsed up front):",
            "  insert:                \(compared(writersAloneInsertRowsPerS))",
            "                         \(writersAloneInsertCpu.text)",
            "  update:                \(compared(writersAloneUpdateRowsPerS))",
            "                         \(writersAloneUpdateCpu.text)",
            String(format: "COPY:                    %8.0f rows/s", copyRowsPerS),
            "staged upsert (COPY into a temporary table, then INSERT … ON CONFLICT; no queue, no bookkeeping):",
            "  insert:                \(compared(stagedInsertRowsPerS))",
            "  update:                \(compared(stagedUpdateRowsPerS))",
            String(format: "one statement per row:   %8.0f rows/s", perStatementRowsPerS),
            String(format: "peak RSS:                %8.1f MB (the whole benchmark, its product bodies included)", peakRssMb),
        ]
        return lines.joined(separator: "\n")
    }
}
