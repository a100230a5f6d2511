import AppConfiguration
import ArgumentParser
import CommandSupport
import Foundation
import HTTPTypes
import Hummingbird
import Inventory
import Logging
import NIOCore
import PostgresClient
import QueueCore
import ServiceLifecycle
import StoreSync
import Synchronization
import WooCommerceAPI

/// `wooqueue bench bootstrap`: products per second read by `bootstrap` from a store that takes a while to build each
/// page, with 1, 2 and 4 pages in flight.
struct BenchBootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Measure bootstrap's products per second against a fake store with a per-page delay, for several pages in flight.",
        discussion: """
            Starts a small store on loopback that answers the products listing (X-WP-Total, X-WP-TotalPages) with \
            --products WooCommerce-shaped products, --per-page to a page, each page after --page-delay (WooCommerce \
            builds a page in 0.4–2 s). For each --pages-in-flight value, runs bootstrap from page 1 into an empty \
            inv_items (a schema of its own, dropped afterwards; keys of its own in Redis), inside the store's REST budget \
            (woocommerce.maxConcurrentRequests), and prints products/s, the most requests the store saw at once, and \
            the rate the delay allows.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Products in the fake store.")
    var products: Int = 2000

    @Option(name: .long, help: "Products per page.")
    var perPage: Int = 100

    @Option(name: .long, help: ArgumentHelp("How long the store takes to build a page.", valueName: "duration"))
    var pageDelay: String = "400ms"

    @Option(name: .long, parsing: .upToNextOption, help: "Pages in flight to measure, each in turn.")
    var pagesInFlight: [Int] = [1, 2, 4]

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    mutating func validate() throws {
        guard (1...1_000_000).contains(products) else { throw ValidationError("--products must be between 1 and 1000000") }
        guard (1...100).contains(perPage) else { throw ValidationError("--per-page must be between 1 and 100 (WooCommerce's limit)") }
        guard let delay = DurationText.parse(pageDelay), delay <= .seconds(10) else {
            throw ValidationError("--page-delay must be a duration of at most 10s, such as 400ms, got \"\(pageDelay)\"")
        }
        guard !pagesInFlight.isEmpty, pagesInFlight.allSatisfy({ (1...16).contains($0) }) else {
            throw ValidationError("--pages-in-flight takes values between 1 and 16")
        }
    }

    func run() async throws {
        var configuration = try global.load()
        BenchScratch.isolate(&configuration, name: "bootstrap")
        let delay = DurationText.parse(pageDelay) ?? .milliseconds(400)  // checked in validate()
        let fake = try await FakeCatalogue.start(products: products, delay: delay)
        defer { fake.stop() }
        try await BenchScratch.with(configuration) { scratch in
            _ = try await scratch.schema.migrate(on: scratch.database)
            try await measure(configuration, store: scratch.store, fake: fake, delay: delay)
        }
    }

    private func measure(_ configuration: WooqueueConfiguration, store: QueueStore, fake: FakeCatalogue, delay: Duration) async throws {
        var settings = configuration.woocommerce
        settings.url = fake.url
        settings.consumerKey = "ck_bench"
        settings.consumerSecret = "cs_bench"
        settings.authentication = .auto
        settings.perPage = perPage
        var logger = Logger(label: "wooqueue.bench")
        logger.logLevel = .warning
        let client = try configuration.makeStoreClient(settings, logger: logger)
        let writer = InventoryWriter(connection: PostgresConnection(url: configuration.database.url, label: "bench-writer"),
                                     settings: configuration.inventory)
        let progress = ProgressLines()
        let pages = (products + perPage - 1) / perPage
        var results: [BootstrapFigures] = []
        for width in pagesInFlight {
            progress.say("bootstrap of \(products) products, \(pages) pages of \(perPage), \(DurationText.format(delay)) a page, \(width) in flight…")
            _ = try await store.deleteAllKeys()
            fake.resetPeak()
            let bootstrap = Bootstrap(client: client, store: store, writer: writer, routing: configuration.routing)
            let start = ContinuousClock.now
            let report = try await bootstrap.run(.init(restart: true, pagesInFlight: width)) { _ in }
            let elapsed = start.duration(to: .now)
            guard report.storeItems == products, report.enqueued == products else {
                throw ValidationError("bootstrap read \(report.storeItems) and enqueued \(report.enqueued) of \(products) products")
            }
            // At most `width` pages at once, each taking `delay`: the rate the store's delay allows.
            let bound = Double(min(width, settings.maxConcurrentRequests == 0 ? width : settings.maxConcurrentRequests) * perPage) / delay.seconds
            results.append(BootstrapFigures(pagesInFlight: width, seconds: elapsed.seconds, productsPerS: Double(products) / elapsed.seconds,
                                            peakRequestsAtOnce: fake.peak, boundProductsPerS: bound))
        }
        if json {
            print(try JSONOutput.text(BootstrapBench(products: products, perPage: perPage, pageDelayMs: Double(delay.milliseconds), runs: results)))
            return
        }
        print("bootstrap of \(products) products, \(pages) pages of \(perPage), the store taking \(DurationText.format(delay)) a page:")
        let base = results.first?.productsPerS ?? 1
        for result in results {
            print(String(format: "  %2d in flight   %8.1f products/s   %6.2f s   ×%.2f of the first   store saw at most %d at once   (the delay allows %.0f/s)",
                         result.pagesInFlight, result.productsPerS, result.seconds, result.productsPerS / base, result.peakRequestsAtOnce,
                         result.boundProductsPerS))
        }
    }
}

struct BootstrapFigures: Encodable {
    let pagesInFlight: Int
    let seconds: Double
    let productsPerS: Double
    let peakRequestsAtOnce: Int
    let boundProductsPerS: Double
}

struct BootstrapBench: Encodable {
    let products: Int
    let perPage: Int
    let pageDelayMs: Double
    let runs: [BootstrapFigures]
}

/// A store that answers only the products listing, with WooCommerce's paging headers, each page after a delay, and
/// counts the requests it answers at once. It checks no signature: the tests' store does that.
final class FakeCatalogue: Sendable {
    private let group: ServiceGroup
    let url: String
    private let inFlight = Mutex<(now: Int, peak: Int)>((0, 0))

    private init(group: ServiceGroup, url: String) {
        self.group = group
        self.url = url
    }

    var peak: Int { inFlight.withLock { $0.peak } }

    func resetPeak() { inFlight.withLock { $0.peak = 0 } }

    func stop() {
        Task { await group.triggerGracefulShutdown() }
    }

    static func start(products: Int, delay: Duration) async throws -> FakeCatalogue {
        let counter = Mutex<FakeCatalogue?>(nil)
        let router = Router()
        router.get("wp-json/wc/v3/products") { request, _ -> Response in
            let perPage = request.uri.queryParameters["per_page"].flatMap { Int(String($0)) } ?? 10
            let page = request.uri.queryParameters["page"].flatMap { Int(String($0)) } ?? 1
            // WooCommerce's bounds; bootstrap never asks for more.
            guard (1...100).contains(perPage), (1...1_000_000).contains(page) else { return Response(status: .badRequest) }
            let store = counter.withLock { $0 }
            store?.inFlight.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
            defer { store?.inFlight.withLock { $0.now -= 1 } }
            try await Task.sleep(for: delay)
            let first = (page - 1) * perPage
            var body: [UInt8] = [UInt8(ascii: "[")]
            for index in first..<max(first, min(products, first + perPage)) {
                if index > first { body.append(UInt8(ascii: ",")) }
                body += BenchProducts.body(index: index)
            }
            body.append(UInt8(ascii: "]"))
            var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: body)))
            response.headers[.contentType] = "application/json"
            response.headers[HTTPField.Name("X-WP-Total")!] = String(products)
            response.headers[HTTPField.Name("X-WP-TotalPages")!] = String(max(1, (products + perPage - 1) / perPage))
            return response
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        var logger = Logger(label: "wooqueue.bench.store")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        Task {
            try? await group.run()
            continuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw ValidationError("the fake store could not listen on 127.0.0.1") }
        let store = FakeCatalogue(group: group, url: "http://127.0.0.1:\(port)")
        counter.withLock { $0 = store }
        return store
    }
}
