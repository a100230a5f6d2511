import AppConfiguration
import Foundation
@testable import Inventory
import MetricsTestKit
import PostgresClient
import QueueCore
import RedisClient
import TestSupport
import Testing
import WooCommerceModel
import Workers
import Logging

/// The bulk path against a real PostgreSQL: jobs in Redis, a real worker process, rows in `inv_items`.
@Suite("Inventory writes", .serialized)
struct InventoryWriteTests {
    @Test("every fixture product lands with its mapped values; no-SKU products are skipped with a visible reason")
    func fixturesLandInTheTable() async throws {
        try await InventoryHarness.with { harness in
            let names = ["product-simple.json", "product-numeric-sku.json", "product-unmanaged-stock.json", "product-no-sku.json",
                         "product-variable.json", "variation-901.json", "variation-902.json"]
            try await harness.process(try names.map { harness.upsert(try Fixtures.bytes($0)) })

            let rows = try await harness.rows()
            #expect(rows.count == 6)
            let tee = try #require(rows["TEE-PQ-001"])
            #expect(tee["codigobarras"] == "TEE-PQ-001")
            #expect(tee["nombre"] == "Premium Quality Tee")
            #expect(tee["nombreweb"] == "Premium Quality Tee")
            #expect(Double(tee["existencia"]!!) == 12)
            #expect(Double(tee["costoestandar"]!!) == 21.99)
            #expect(Double(tee["costopromedio"]!!) == 21.99)
            #expect(Double(tee["costoultimacompra"]!!) == 14.2)
            #expect(tee["id_altek"] == "794")
            #expect(tee["imagen"] == "https://shop.example.com/wp-content/uploads/2026/10/front.jpg")
            #expect(tee["bloqueado"] == "f")
            #expect(tee["idcategoria"] == "9")
            #expect(tee["observaciones"] == "Short description.")
            #expect(Double(tee["alto"]!!) == 4)
            #expect(Double(tee["ancho"]!!) == 15.5)

            let coffee = try #require(rows["000012345"])
            #expect(coffee["codigobarras"] == "12345")
            #expect(coffee["nombre"] == "Café de Colombia 500 g")
            #expect(coffee["alto"] == .some(nil))

            let unmanaged = try #require(rows.values.first { $0["id_altek"] == "802" })
            #expect(Double(unmanaged["existencia"]!!) == 0)
            #expect(unmanaged["costoestandar"] == .some(nil))
            #expect(unmanaged["imagen"] == .some(nil))

            let blue = try #require(rows["HOODIE-BLUE-M"])
            #expect(blue["nombre"] == "Hoodie - Blue, M")
            #expect(Double(blue["existencia"]!!) == 7)
            #expect(blue["idcategoria"] == "9")
            #expect(blue["imagen"] == "https://shop.example.com/wp-content/uploads/2026/10/hoodie-blue.jpg")
            let green = try #require(rows["000987654"])
            #expect(green["nombre"] == "Hoodie - Green, L")
            #expect(Double(green["existencia"]!!) == 0)

            #expect(try await harness.totals()["written"] == 6)
            #expect(try await harness.totals()["skipped_no_sku"] == 1)
            let events = try await harness.workers.store.snapshot(queues: harness.configuration.queues, latestEvents: 20).events
            let skipped = try #require(events.first { $0.event == "skipped" })
            #expect(skipped.status == "done")
            #expect(skipped.error?.contains("no SKU") == true)
        }
    }

    @Test("the database's sku_key agrees with SKU.key")
    func sqlNormalizationMatchesSwift() async throws {
        try await InventoryHarness.with { harness in
            let samples = [" 123 ", "123", "000000123", "12345678", "123456789", "1234567890", "abc-1", " Abc-1\t", "ñandú", "0", "-12", "12 34", "", "  "]
            for sample in samples {
                let sql = try await harness.database.query("SELECT \"\(harness.stateSchema)\".sku_key($1)", [sample]).scalar
                #expect(sql == SKU.key(sample), "sku_key(\"\(sample)\")")
            }
        }
    }

    @Test("an existing unpadded row item='123' is found by store SKU 123 and updated, not duplicated")
    func existingUnpaddedRow() async throws {
        try await InventoryHarness.with(
            createTable: "CREATE TABLE {table} (item varchar(20) NOT NULL, codigobarras varchar(60), nombre varchar(60), existencia integer, id_altek integer, bloqueado boolean DEFAULT false)",
            rows: "INSERT INTO {table} (item, nombre, existencia) VALUES ('123', 'Old name', 1), ('ABC-9', 'Other', 5)") { harness in
            let product = try ProductJSON.fixture("product-simple.json", ["sku": " 123", "name": "New name"])
            let lower = try ProductJSON.fixture("product-simple.json", ["id": 795, "sku": "abc-9", "name": "Other renamed"])
            try await harness.process([harness.upsert(product), harness.upsert(lower)])
            let rows = try await harness.rows()
            #expect(rows.count == 2)
            #expect(rows["123"]?["nombre"] == "New name")
            #expect(rows["123"]?["existencia"] == "12")
            #expect(rows["123"]?["id_altek"] == "794")
            #expect(rows["ABC-9"]?["nombre"] == "Other renamed")
        }
    }

    @Test("migrate stops and lists rows whose SKUs normalize alike, creating no index")
    func migrateRefusesDuplicates() async throws {
        try await InventoryHarness.with(
            createTable: "CREATE TABLE {table} (item varchar(20) NOT NULL, nombre varchar(60))",
            rows: "INSERT INTO {table} (item) VALUES ('123'), ('000000123 '), ('tee'), ('TEE'), ('unique')", migrate: false) { harness in
            let error = await #expect(throws: InventorySchemaError.self) {
                _ = try await InventorySchema(settings: harness.configuration.inventory).migrate(on: harness.database)
            }
            let message = error.map { "\($0)" } ?? ""
            #expect(message.contains("000000123: '000000123 ', '123'"))
            #expect(message.contains("TEE: 'TEE', 'tee'"))
            #expect(!message.contains("'unique'"))
            let indexes = try await harness.database.query("SELECT count(*) FROM pg_indexes WHERE schemaname = $1", [harness.tableSchema]).scalar
            #expect(indexes == "0")
        }
    }

    @Test("narrow varchar(60) columns: accented and multibyte names cut at character boundaries and counted")
    func narrowColumns() async throws {
        try await InventoryHarness.with(createTable: """
            CREATE TABLE {table} (item varchar(60) NOT NULL, codigobarras varchar(60), nombre varchar(60), nombreweb varchar(60),
                                existencia numeric(12,2), observaciones varchar(60), bloqueado boolean DEFAULT false)
            """) { harness in
            // 59 scalars, then "é" written as e + combining acute (2 scalars): the cut at 60 may not split it.
            let combining = String(repeating: "Ñandú ", count: 9) + "Cafés" + "e\u{301}" + " más"
            // 59 scalars, then a thumb with a skin tone (2 scalars).
            let emoji = String(repeating: "日本語", count: 19) + "日本" + "👍🏽" + "end"
            let products = [
                try ProductJSON.fixture("product-simple.json", ["id": 1, "sku": "N-1", "name": combining]),
                try ProductJSON.fixture("product-simple.json", ["id": 2, "sku": "N-2", "name": emoji]),
                try ProductJSON.fixture("product-simple.json", ["id": 3, "sku": "N-3", "name": "Short"]),
            ]
            try await harness.process(products.map { harness.upsert($0) })
            let rows = try await harness.rows()
            for (sku, original) in [("N-1", combining), ("N-2", emoji)] {
                let stored = try #require(rows[sku]?["nombre"] ?? nil)
                #expect(stored.unicodeScalars.count <= 60)
                #expect(original.hasPrefix(stored))  // a whole-character prefix (hasPrefix compares characters)
                #expect(stored.unicodeScalars.count >= 57)
            }
            #expect(rows["N-1"]?["nombre"] == String(repeating: "Ñandú ", count: 9) + "Cafés")
            #expect(rows["N-2"]?["nombre"] == String(repeating: "日本語", count: 19) + "日本")
            #expect(rows["N-3"]?["nombre"] == "Short")
            // nombre and nombreweb of both long names.
            #expect(try await harness.totals()["truncated"] == 4)
        }
    }

    @Test("soft deletion by WooCommerce id blocks the row and zeroes its stock; restored writes it again")
    func softDeletion() async throws {
        try await InventoryHarness.with(deletion: "soft") { harness in
            try await harness.process([harness.upsert(try Fixtures.bytes("product-simple.json"))])
            try await harness.process([harness.delete(id: 794)])
            var row = try #require(try await harness.rows()["TEE-PQ-001"])
            #expect(row["bloqueado"] == "t")
            #expect(Double(row["existencia"]!!) == 0)
            #expect(try await harness.totals()["deleted"] == 1)

            // A retry of the update that was written before the deletion does not bring the row back …
            try await harness.process([harness.upsert(try Fixtures.bytes("product-simple.json"))])
            #expect(try await harness.rows()["TEE-PQ-001"]?["bloqueado"] == "t")
            // … product.restored (a newer state) does.
            let restored = try ProductJSON.fixture("product-simple.json", ["date_modified_gmt": "2026-11-22T09:00:00"])
            try await harness.process([harness.upsert(restored)])
            row = try #require(try await harness.rows()["TEE-PQ-001"])
            #expect(row["bloqueado"] == "f")
            #expect(Double(row["existencia"]!!) == 12)
        }
    }

    @Test("hard deletion by id, through the bookkeeping or id_altek; an unknown id is skipped visibly")
    func hardDeletion() async throws {
        try await InventoryHarness.with(deletion: "hard") { harness in
            try await harness.execute("INSERT INTO \(harness.table) (item, nombre, id_altek) VALUES ('ERP-ONLY', 'From the ERP', 555)")
            try await harness.process([harness.upsert(try Fixtures.bytes("product-simple.json"))])
            #expect(try await harness.count() == 2)
            try await harness.process([harness.delete(id: 794), harness.delete(id: 555), harness.delete(id: 999)])
            #expect(try await harness.count() == 0)
            let totals = try await harness.totals()
            #expect(totals["deleted"] == 2)
            #expect(totals["delete_not_found"] == 1)
        }
    }

    @Test("an older state after a newer one is skipped and counted; order inside a batch follows date_modified_gmt")
    func olderAfterNewer() async throws {
        try await InventoryHarness.with { harness in
            let newer = try ProductJSON.fixture("product-simple.json", ["date_modified_gmt": "2026-11-21T10:00:00", "stock_quantity": 5])
            let older = try ProductJSON.fixture("product-simple.json", ["date_modified_gmt": "2026-11-20T10:00:00", "stock_quantity": 99])
            try await harness.process([harness.upsert(newer)])
            try await harness.process([harness.upsert(older)])
            #expect(try await harness.rows()["TEE-PQ-001"]?["existencia"] == "5.000")
            #expect(try await harness.totals()["skipped_older"] == 1)
            // Both in one batch, the older last: the newer still wins.
            let newest = try ProductJSON.fixture("product-simple.json", ["date_modified_gmt": "2026-11-23T10:00:00", "stock_quantity": 7])
            let stale = try ProductJSON.fixture("product-simple.json", ["date_modified_gmt": "2026-11-22T10:00:00", "stock_quantity": 1])
            try await harness.process([harness.upsert(newest), harness.upsert(stale)])
            #expect(try await harness.rows()["TEE-PQ-001"]?["existencia"] == "7.000")
            #expect(try await harness.totals()["skipped_older"] == 2)
        }
    }

    @Test("a newer state with the same values leaves the row untouched (no new row version for the ERP); a changed one is written")
    func unchangedValuesNotRewritten() async throws {
        try await InventoryHarness.with { harness in
            func version() async throws -> String? {
                try await harness.database.query("SELECT xmin::text FROM \(harness.table) WHERE item = 'TEE-PQ-001'").scalar
            }
            try await harness.process([harness.upsert(try ProductJSON.fixture("product-simple.json", ["date_modified_gmt": "2026-11-21T10:00:00"]))])
            let first = try await version()
            // Saved again in WooCommerce (say, a new description): newer date, same mapped values.
            try await harness.process([harness.upsert(try ProductJSON.fixture("product-simple.json", ["date_modified_gmt": "2026-11-22T10:00:00"]))])
            #expect(try await version() == first)
            let recorded = try await harness.database.query(
                "SELECT modified_gmt::text FROM \"\(harness.stateSchema)\".sync_state WHERE woo_id = 794").scalar
            #expect(recorded == "2026-11-22 10:00:00")
            try await harness.process([harness.upsert(try ProductJSON.fixture("product-simple.json", ["date_modified_gmt": "2026-11-23T10:00:00", "stock_quantity": 3]))])
            #expect(try await version() != first)
            #expect(try await harness.rows()["TEE-PQ-001"]?["existencia"] == "3.000")
        }
    }

    @Test("a poison row in a batch of 500: 499 committed, 1 dead-lettered with the database's message")
    func poisonRowInBatch() async throws {
        try await InventoryHarness.with(batchSize: 500) { harness in
            var jobs: [JobEnvelope] = []
            for index in 0..<500 {
                // numeric(14,4) cannot hold this price: PostgreSQL rejects the row (SQLSTATE 22003).
                let price = index == 317 ? "123456789012345.5" : "10.50"
                jobs.append(harness.upsert(try ProductJSON.fixture("product-simple.json", ["id": 10_000 + index, "sku": "P-\(index)", "regular_price": price])))
            }
            try await harness.process(jobs, done: 499, dead: 1)
            #expect(try await harness.count() == 499)
            #expect(try await harness.rows()["P-317"] == nil)
            let dead = try await harness.workers.store.deadLetters(queue: "bulk").compactMap(\.envelope)
            #expect(dead.count == 1)
            #expect(dead.first?.lastError?.contains("22003") == true)
            #expect(dead.first?.lastError?.contains("10317") == true)
            #expect(dead.first?.attempt == 1)  // permanent: no retry
            #expect(try await harness.totals()["rejected"] == 1)
            #expect(try await harness.totals()["written"] == 499)
            // The same counts as process metrics, and a duration for each statement that committed.
            #expect(try harness.metrics.expectCounter("wooqueue_inventory_rows_total", [("outcome", "written")]).totalValue == 499)
            #expect(try harness.metrics.expectCounter("wooqueue_inventory_rows_total", [("outcome", "rejected")]).totalValue == 1)
            #expect(try harness.metrics.expectTimer("wooqueue_inventory_batch_duration_seconds").values.count >= 2,
                    "the halves that committed around the rejected row")
        }
    }

    @Test("a page job: its products written together; a rejected product and an unknown variation's parent split off alone")
    func pageJobSplitsFailedProducts() async throws {
        // A retry an hour away: the split-off variation is still waiting for it when the test looks.
        try await InventoryHarness.with(retryAfter: "1h") { harness in
            let products = [
                try ProductJSON.fixture("product-simple.json", ["id": 30_001, "sku": "PAGE-1"]),
                // numeric(14,4) cannot hold this price: PostgreSQL rejects the product (SQLSTATE 22003).
                try ProductJSON.fixture("product-simple.json", ["id": 30_002, "sku": "PAGE-2", "regular_price": "123456789012345.5"]),
                try ProductJSON.fixture("product-simple.json", ["id": 30_003, "sku": "PAGE-3"]),
                // Its parent 900 was never synced and no store is configured to read it: retried alone, later.
                try ProductJSON.fixture("variation-901.json", ["sku": "PAGE-V"]),
            ]
            try await harness.process([harness.upsert(ProductPage.payload(products))], done: 1, dead: 1)

            #expect(Set(try await harness.rows().keys) == ["PAGE-1", "PAGE-3"])
            let dead = try await harness.workers.store.deadLetters(queue: "bulk").compactMap(\.envelope)
            #expect(dead.count == 1)
            let rejected = try #require(dead.first)
            #expect(rejected.type == "inventory.upsert")
            #expect(rejected.key == "PAGE-2")
            #expect(rejected.lastError?.contains("22003") == true)
            #expect(try Product(json: rejected.payload).id == 30_002)  // the product alone, not the page

            let keys = harness.workers.store.keys("bulk")
            let delayed = try await harness.workers.store.connection.send(RedisCommand("ZRANGE", keys.delayed, "0", "-1")).array ?? []
            let retried = try delayed.compactMap(\.bytes).map { try JobEnvelope(decoding: $0) }
            #expect(retried.count == 1)
            #expect(retried.first?.attempt == 1)
            #expect(retried.first?.lastError?.contains("parent product 900") == true)
            #expect(try retried.first.map { try Product(json: $0.payload).id } == 901)

            let events = try await harness.workers.store.snapshot(queues: harness.configuration.queues, latestEvents: 10).events
            #expect(events.contains { $0.event == "split" && $0.error?.contains("2 part(s)") == true })
            #expect(try await harness.totals()["written"] == 2)
            #expect(try await harness.totals()["rejected"] == 1)
        }
    }

    @Test("PostgreSQL restarted mid-stream: the jobs wait, then every row converges and nothing is dead-lettered")
    func postgresRestartMidStream() async throws {
        try await InventoryHarness.with(batchSize: 100) { harness in
            let services = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services").path
            func products(_ range: Range<Int>) throws -> [JobEnvelope] {
                try range.map { harness.upsert(try ProductJSON.fixture("product-simple.json", ["id": 20_000 + $0, "sku": "R-\($0)", "stock_quantity": $0])) }
            }
            _ = try await harness.workers.store.enqueue(try products(0..<1000))
            do {
                try await harness.workers.run(registry: try harness.registry()) { _ in
                    try await waitUntil("the first 1,000 rows", timeout: .seconds(30)) { try await harness.count() == 1000 }
                    #expect(try await runToCompletion(services, ["stop-postgres"]) == 0)
                    _ = try await harness.workers.store.enqueue(try products(1000..<2000))
                    try await waitUntil("a batch to be postponed while PostgreSQL is down", timeout: .seconds(30)) {
                        let events = try await harness.workers.store.snapshot(queues: harness.configuration.queues, latestEvents: 50).events
                        return events.contains { $0.event == "postponed" }
                    }
                    #expect(try await runToCompletion(services, ["start-postgres"]) == 0)
                    try await harness.workers.waitFor("bulk", done: 2000, timeout: .seconds(60))
                }
            } catch {
                _ = try? await runToCompletion(services, ["start-postgres"])  // leave the server up for the next tests
                throw error
            }
            #expect(try await harness.count() == 2000)
            #expect(try await harness.count("existencia = CAST(substr(item, 3) AS numeric)") == 2000)
            let bulk = try await harness.workers.queue("bulk")
            #expect(bulk.dead == 0)
            #expect(bulk.done == 2000)
        }
    }

    @Test("a job read ahead is written as it was read, not read again")
    func whatWasReadAheadIsWhatIsWritten() async throws {
        try await InventoryHarness.with { harness in
            let writer = InventoryWriter(connection: PostgresConnection(url: TestEnvironment.databaseURL, label: "read-ahead"),
                                         settings: harness.configuration.inventory)
            let logger = Logger(label: "read-ahead")
            let handler = InventoryHandler(writers: [writer], batchLimit: 10, source: nil, counters: nil, logger: logger)
            handler.assign(.upsert, to: "inventory.upsert")
            func page(_ skus: [String]) -> JobContext {
                JobContext(envelope: harness.upsert(ProductPage.payload(skus.enumerated().map { index, sku in
                    Array(#"{"id":\#(index + 1),"sku":"\#(sku)","date_modified_gmt":"2026-11-20T10:00:00"}"#.utf8)
                })), logger: logger)
            }
            // The job's own payload names A-1; what was read ahead of it (another page) names B-1 and B-2.
            let job = page(["A-1"])
            let readAhead = try #require(handler.readAhead(page(["B-1", "B-2"])))
            let results = try await handler.handle(batch: [JobContext(envelope: job.envelope, logger: logger, readAhead: readAhead)])
            #expect(results == [.done])
            #expect(try await harness.rows().keys.sorted() == ["B-1", "B-2"])
            // Not read ahead: read from the payload.
            #expect(try await handler.handle(batch: [page(["C-1"])]) == [.done])
            #expect(try await harness.rows().keys.contains("C-1"))
            await writer.connection.close()
        }
    }
}
