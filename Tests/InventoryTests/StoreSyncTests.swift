import AppConfiguration
import Foundation
import Inventory
import Logging
import QueueCore
import RedisClient
import Routing
import StoreSync
import Synchronization
import TestSupport
import Testing
@testable import WooCommerceAPI
import Workers

/// Bootstrap, reconcile and stock_sync against a small real WooCommerce REST server and a real PostgreSQL.
@Suite("Store comparison", .serialized)
struct StoreSyncTests {
    /// A harness whose configuration points at `store` (2 products per page, so the 5 products take 3 pages).
    private func withStore(_ body: (InventoryHarness, FakeStore, WooqueueConfiguration) async throws -> Void) async throws {
        let store = try await FakeStore.start()
        defer { store.stop() }
        try await InventoryHarness.with { harness in
            var configuration = harness.configuration
            configuration.woocommerce = .init(url: store.url, consumerKey: FakeStore.consumerKey, consumerSecret: FakeStore.consumerSecret,
                                              authentication: .auto, perPage: 2, timeout: .seconds(5), reconcileInterval: .zero)
            try await body(harness, store, configuration)
        }
    }

    private func client(_ configuration: WooqueueConfiguration) throws -> WooCommerceClient {
        var logger = Logger(label: "test.woocommerce")
        logger.logLevel = .error
        return try WooCommerceClient(settings: configuration.woocommerce, logger: logger, attempts: 2, firstDelay: .milliseconds(10))
    }

    private func bootstrap(_ harness: InventoryHarness, _ configuration: WooqueueConfiguration) throws -> Bootstrap {
        Bootstrap(client: try client(configuration), store: harness.workers.store, writer: harness.writer(), routing: configuration.routing)
    }

    @Test("bootstrap pages through the store, enqueues what the table lacks, counts no-SKU products and orphans")
    func bootstrapEnqueuesMissing() async throws {
        try await withStore { harness, store, configuration in
            // 801's SKU " 12345 " is in the table already, unpadded; GONE-1 is not in the store.
            try await harness.execute("INSERT INTO \(harness.table) (item, nombre) VALUES ('12345', 'Coffee'), ('GONE-1', 'Old product')")
            let report = try await bootstrap(harness, configuration).run(.init(batch: 2)) { _ in }
            #expect(report.storeProducts == 5)
            #expect(report.storeItems == 7)
            #expect(report.missing == 5)  // 794, 802, 900, 901, 902
            #expect(report.enqueued == 5)
            #expect(report.skippedNoSKU == 1)
            #expect(report.tableRows == 2)
            #expect(report.orphans == 1)
            #expect(report.orphansRemoved == 0)
            #expect(report.pages == 3)
            // Page 1 alone (it tells how many there are), then 2 and 3 side by side (woocommerce.pagesInFlight 2).
            let pages = store.state.withLock { $0.requests.filter { $0.path.hasSuffix("/products") }.map { $0.query["page"] ?? "" } }
            #expect(pages.first == "1" && pages.sorted() == ["1", "2", "3"], "\(pages)")
            #expect(store.state.withLock { $0.requests.contains { $0.path.hasSuffix("/products/900/variations") } })

            #expect(report.jobs == 3)  // a job per page: 794 | 802 | 900 with its variations 901 and 902
            try await harness.process([], done: 3)
            let rows = try await harness.rows()
            #expect(rows.count == 7)
            #expect(rows["HOODIE-BLUE-M"]?["nombre"] == "Hoodie - Blue, M")
            #expect(rows["000987654"]?["nombre"] == "Hoodie - Green, L")
            #expect(rows["12345"]?["nombre"] == "Coffee")  // not enqueued: it was there
            #expect(rows["GONE-1"]?["bloqueado"] == "f")  // an orphan is left alone by default
        }
    }

    @Test("bootstrap interrupted at page 2 resumes at page 2, and --delete-orphans applies the deletion mode")
    func bootstrapResumes() async throws {
        try await withStore { harness, store, configuration in
            try await harness.execute("INSERT INTO \(harness.table) (item, nombre, existencia) VALUES ('GONE-1', 'Old product', 4)")
            store.state.withLock { $0.failPage = 2 }
            let first = try bootstrap(harness, configuration)
            // One page at a time: a page asked for ahead could reach the store after the reset below.
            let error = await #expect(throws: WooCommerceError.self) { _ = try await first.run(.init(pagesInFlight: 1)) { _ in } }
            #expect("\(error.map { "\($0)" } ?? "")".contains("HTTP 401"))
            store.state.withLock { $0.failPage = nil; $0.requests = [] }

            let report = try await bootstrap(harness, configuration).run(.init(deleteOrphans: true)) { _ in }
            #expect(report.resumedAtPage == 2)
            let pages = store.state.withLock { $0.requests.filter { $0.path.hasSuffix("/products") }.map { $0.query["page"] ?? "" } }
            #expect(pages == ["2", "3"])
            #expect(report.missing == 6)  // page 1's two (794, 801) were counted before the interruption
            #expect(report.enqueued == 6)
            #expect(report.orphans == 1)
            #expect(report.orphansRemoved == 1)
            #expect(try await harness.workers.store.counts(scope: "inventory")["deleted"] == 1, "the removal counts in the inventory totals")
            let gone = try #require(try await harness.rows()["GONE-1"])
            #expect(gone["bloqueado"] == "t")
            #expect(Double(gone["existencia"]!!) == 0)
        }
    }

    @Test("bootstrap asks for up to pagesInFlight pages at once, reads every page once, and enqueues every product")
    func bootstrapFetchesPagesSideBySide() async throws {
        try await withStore { harness, store, configuration in
            try store.addSimpleProducts(12)  // 17 products, 19 with variations: 9 pages of 2
            store.state.withLock { $0.pageDelay = .milliseconds(300) }
            let report = try await bootstrap(harness, configuration).run(.init(pagesInFlight: 3)) { _ in }
            #expect(store.state.withLock { $0.peakListingsInFlight } == 3)
            let pages = store.state.withLock { $0.listingArrivals.map(\.page) }
            #expect(pages.sorted() == Array(1...9), "each page asked for once, none past the last: \(pages)")
            #expect(report.pages == 9 && report.storeItems == 19 && report.missing == 18 && report.enqueued == 18)
        }
    }

    @Test("with pages ahead fetched, an interruption leaves the cursor at the lowest page not finished, and the resumed run adds the rest")
    func aResumedConcurrentBootstrapStartsAtTheLowestUnfinishedPage() async throws {
        try await withStore { harness, store, configuration in
            try store.addSimpleProducts(12)
            store.state.withLock { $0.pageDelay = .milliseconds(100); $0.failPage = 4 }
            _ = try? await bootstrap(harness, configuration).run(.init(pagesInFlight: 4)) { _ in }
            #expect(store.state.withLock { $0.listingArrivals.contains { $0.page > 4 } }, "pages after the failing one were asked for")
            let cursor = try await harness.workers.store.resumableRun("bootstrap", members: "skus").fields()
            #expect(cursor["next_page"] == 4, "\(cursor)")
            store.state.withLock { $0.failPage = nil; $0.listingArrivals = [] }
            let report = try await bootstrap(harness, configuration).run(.init(pagesInFlight: 4)) { _ in }
            #expect(report.resumedAtPage == 4)
            // Pages 5–7, asked for ahead by the first run, may still arrive after the reset: compare the set.
            #expect(Set(store.state.withLock { $0.listingArrivals.map(\.page) }) == Set(4...9))
            #expect(report.storeItems == 19 && report.missing == 18 && report.enqueued == 18)
            try await harness.process([], done: report.jobs)
            #expect(try await harness.rows().count == 18)
        }
    }

    @Test("a 429 on one page holds back every page request of the client until its Retry-After has passed")
    func aThrottledPageHoldsBackThePagesBesideIt() async throws {
        try await withStore { harness, store, configuration in
            try store.addSimpleProducts(12)
            // Page 3, asked for beside 2 and 4, gets the 429 at once; 2 and 4 come back 400 ms later, and the pages
            // after them would be asked for then without the shared hold.
            store.state.withLock { $0.pageDelay = .milliseconds(400); $0.throttle = (page: 3, retryAfter: 1) }
            let report = try await bootstrap(harness, configuration).run(.init(pagesInFlight: 3)) { _ in }
            #expect(report.pages == 9 && report.enqueued == 18)
            let (arrivals, throttledAt) = store.state.withLock { ($0.listingArrivals, $0.throttledAt) }
            let sent = try #require(throttledAt)
            // Pages 2 and 4 may still be on their way when the 429 leaves (on a busy machine, tens of ms later):
            // they are not held. Every request after the 429 for another page, and page 3 again, is; the client
            // can send those only once a page has come back, 400 ms after the 429 left, long after it had the 429.
            let throttledArrival = try #require(arrivals.firstIndex { $0.page == 3 })
            let later = arrivals[(throttledArrival + 1)...].filter { ![2, 4].contains($0.page) }
            #expect(!later.isEmpty)
            #expect(later.allSatisfy { $0.at >= sent + .milliseconds(990) }, "requests came \(later.map { sent.duration(to: $0.at) }) after the 429")
        }
    }

    @Test("the deletion sweep (reconcile --deletions) removes rows the store no longer has, apart from an unfinished bootstrap")
    func deletionSweep() async throws {
        try await withStore { harness, store, configuration in
            try await harness.execute("INSERT INTO \(harness.table) (item, nombre, existencia) VALUES ('GONE-2', 'Deleted for good', 3)")
            // An unfinished bootstrap stays as it was: the sweep keeps its own state.
            store.state.withLock { $0.failPage = 2 }
            _ = try? await bootstrap(harness, configuration).run(.init()) { _ in }
            store.state.withLock { $0.failPage = nil }
            let bootstrapCursor = try await harness.workers.store.resumableRun("bootstrap", members: "skus").fields()
            #expect(bootstrapCursor["next_page"] == 2, "the interrupted bootstrap left its page: \(bootstrapCursor)")

            let sweep = Bootstrap(client: try client(configuration), store: harness.workers.store, writer: harness.writer(),
                                  routing: configuration.routing, task: "deletion-sweep")
            let report = try await sweep.run(.init(deleteOrphans: true)) { _ in }
            #expect(report.orphans == 1 && report.orphansRemoved == 1 && report.resumedAtPage == nil)
            #expect(try #require(try await harness.rows()["GONE-2"])["bloqueado"] == "t", "soft deletion: blocked, stock 0")
            #expect(try await harness.workers.store.resumableRun("bootstrap", members: "skus").fields() == bootstrapCursor)
        }
    }

    @Test("reconcile routes what changed since the last sweep, variations included, and records the sweep")
    func reconcile() async throws {
        try await withStore { harness, store, configuration in
            store.state.withLock { state in
                state.products[794]?["date_modified_gmt"] = "2026-11-22T10:00:00"
                state.products[900]?["date_modified_gmt"] = "2026-11-22T10:00:00"
                state.variations[900]?[0]["date_modified_gmt"] = "2026-11-22T10:00:00"
            }
            let reconciler = Reconciler(client: try client(configuration), store: harness.workers.store, routing: configuration.routing)
            await #expect(throws: ReconcileError.self) { _ = try await reconciler.run() }
            let report = try await reconciler.run(since: "2026-11-21T12:00:00")
            #expect(report.changed == 3)  // 794, 900 and its variation 901; 902 is older
            #expect(store.state.withLock { $0.requests.allSatisfy { $0.query["oauth_signature"] != nil } })
            #expect(store.state.withLock { $0.requests.contains { $0.query["modified_after"] == "2026-11-21T12:00:00" && $0.query["dates_are_gmt"] == "true" } })
            #expect(report.enqueued == 1)  // one page, one job
            try await harness.process([], done: 1)
            #expect(Set(try await harness.rows().keys) == ["TEE-PQ-001", "HOODIE", "HOODIE-BLUE-M"])

            // The next sweep starts where this one started (minus a minute): nothing has changed since.
            let recorded = try #require(try await reconciler.lastSweep())
            #expect(recorded > "2026-11-22T10:00:00")
            #expect(try await reconciler.run().changed == 0)
        }
    }

    @Test("without X-WP-TotalPages the client follows the Link header to the last page")
    func followsLinkHeader() async throws {
        try await withStore { harness, store, configuration in
            store.state.withLock { $0.omitTotalPages = true }
            let reconciler = Reconciler(client: try client(configuration), store: harness.workers.store, routing: configuration.routing)
            let report = try await reconciler.run(since: "2000-01-01T00:00:00")
            #expect(report.pages == 3)
            #expect(report.changed == 7)
            // The last page has no rel="next": no request for a fourth.
            let pages = store.state.withLock { $0.requests.filter { $0.path.hasSuffix("/products") }.map { $0.query["page"] ?? "" } }
            #expect(pages == ["1", "2", "3"])
        }
    }

    @Test("stock_sync skips an ordered product the store no longer has")
    func stockSyncSkipsDeletedProduct() async throws {
        try await withStore { harness, store, configuration in
            store.state.withLock { _ = $0.products.removeValue(forKey: 794) }
            let jobs = try DeliveryRouter(configuration: configuration)
                .jobs(for: Delivery(topic: "order.created", deliveryID: "d-2", body: try Fixtures.bytes("order-created.json"), origin: "test"))
                .filter { $0.type == "stock_sync" }
            var kinds = HandlerKinds.builtIn
            try kinds.registerInventory(configuration: configuration, source: try client(configuration), counters: harness.workers.store,
                                        logger: Logger(label: "test.inventory"))
            let registry = try kinds.registry(for: configuration.jobTypes)
            _ = try await harness.workers.store.enqueue(jobs)
            try await harness.workers.run(registry: registry) { _ in try await harness.workers.waitFor("bulk", done: 1) }
            #expect(Set(try await harness.rows().keys) == ["HOODIE-BLUE-M"])
        }
    }

    @Test("stock_sync re-reads the ordered products and writes their absolute stock; running it twice changes nothing")
    func stockSync() async throws {
        try await withStore { harness, store, configuration in
            store.state.withLock { state in
                state.products[794]?["stock_quantity"] = 10  // after the order: 12 - 2
                state.variations[900]?[0]["stock_quantity"] = 6
            }
            let router = DeliveryRouter(configuration: configuration)
            let jobs = try router.jobs(for: Delivery(topic: "order.created", deliveryID: "d-1", body: try Fixtures.bytes("order-created.json"), origin: "test"))
            let stockJobs = jobs.filter { $0.type == "stock_sync" }
            #expect(stockJobs.count == 1)
            var kinds = HandlerKinds.builtIn
            var logger = Logger(label: "test.inventory")
            logger.logLevel = .warning
            try kinds.registerInventory(configuration: configuration, source: try client(configuration), counters: harness.workers.store, logger: logger)
            let registry = try kinds.registry(for: configuration.jobTypes)
            _ = try await harness.workers.store.enqueue(stockJobs + stockJobs.map { var again = $0; again.id = JobID.make(); return again })
            try await harness.workers.run(registry: registry) { _ in
                try await harness.workers.waitFor("bulk", done: 2)
            }
            let rows = try await harness.rows()
            #expect(Double(rows["TEE-PQ-001"]?["existencia"]!! ?? "") == 10)
            #expect(Double(rows["HOODIE-BLUE-M"]?["existencia"]!! ?? "") == 6)
            #expect(rows["HOODIE-BLUE-M"]?["nombre"] == "Hoodie - Blue, M")  // its parent read from the store too
            #expect(rows.count == 2)
        }
    }

    /// `wooqueue reconcile --since …`, the real executable, against a store that checks OAuth as WooCommerce does
    /// (the independent port): every plain-http store answered it 401 before the signer encoded pairs twice.
    @Test("reconcile --since, run as a command, passes WooCommerce's OAuth check with modified_after")
    func reconcileCommandPassesTheOAuthCheck() async throws {
        try await withStore { harness, store, configuration in
            let config = FileManager.default.temporaryDirectory.appendingPathComponent("wq-reconcile-\(UUID().uuidString).json")
            try Data(#"""
                {"redis": {"url": "\#(TestEnvironment.redisURL)", "keyPrefix": "\#(configuration.redis.keyPrefix)"},
                 "woocommerce": {"url": "\#(store.url)", "consumerKey": "\#(FakeStore.consumerKey)",
                                 "consumerSecret": "\#(FakeStore.consumerSecret)", "perPage": 2}}
                """#.utf8).write(to: config)
            defer { try? FileManager.default.removeItem(at: config) }
            let binary = ProcessInfo.processInfo.environment["WOOQUEUE_BIN"]
                ?? TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/wooqueue").path
            let output = config.appendingPathExtension("out")
            defer { try? FileManager.default.removeItem(at: output) }
            let status = try await runToCompletion("/bin/sh", ["-c", """
                env -u WOOQUEUE_REDIS_URL -u WOOQUEUE_WOO_URL -u WOOQUEUE_WOO_KEY -u WOOQUEUE_WOO_SECRET \
                  "$0" reconcile --since 2026-01-01T00:00:00 --config "$1" --log-level error > "$2" 2>&1
                """, binary, config.path, output.path])
            let printed = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            #expect(status == 0, "\(printed)")
            let requests = store.state.withLock { $0.requests }
            #expect(requests.contains { $0.query["modified_after"] == "2026-01-01T00:00:00" && $0.query["oauth_signature"] != nil })
            let keys = try await harness.workers.store.connection.send("KEYS", "\(configuration.redis.keyPrefix):*").array?.compactMap(\.string) ?? []
            #expect((try await harness.workers.store.connection.send("LLEN", harness.workers.store.keys("bulk").ready).int ?? 0) >= 1,
                    "the changed products, a job per page: \(keys)\n\(printed)")
        }
    }

    /// The signer once encoded each pair once; WooCommerce encodes `name=value` a second time, so any value with
    /// `:` (`modified_after`) got 401 from every plain-http store, and a test that checked the same wrong way could
    /// not see it. The oracle is an independent port of WooCommerce's check (Tests/Peers).
    @Test("OAuth 1.0a signature passes WooCommerce's check, written out independently, with modified_after")
    func oauthSignature() async throws {
        let settings = WooqueueConfiguration.WooCommerceSettings(
            url: "http://shop.example.com", consumerKey: FakeStore.consumerKey, consumerSecret: FakeStore.consumerSecret,
            authentication: .auto, perPage: 100, timeout: .seconds(5), reconcileInterval: .zero)
        let client = try WooCommerceClient(settings: settings, logger: Logger(label: "test"))
        let now = Int64(Date().timeIntervalSince1970)
        for parameters in [[("page", "2"), ("modified_after", "2026-11-21T12:00:00")], [("sku", "A B+C/ü~"), ("dates_are_gmt", "true")], []] {
            let url = client.requestURL("products", parameters: parameters, timestamp: now, nonce: "abc123")
            #expect(try await FakeStore.checkOAuth(method: "GET", url: url) == 0, "\(url)")
        }
        // And a signature made the old way (each pair encoded once) is refused by the same checker.
        var tampered = URLComponents(string: client.requestURL("products", parameters: [("modified_after", "2026-11-21T12:00:00")], timestamp: now, nonce: "n"))!
        tampered.queryItems = tampered.queryItems?.map { $0.name == "oauth_signature" ? URLQueryItem(name: $0.name, value: "AAAA") : $0 }
        #expect(try await FakeStore.checkOAuth(method: "GET", url: tampered.string!) != 0)
    }
}
