import AppConfiguration
import ArgumentParser
import CommandSupport
import AsyncHTTPClient
import Dispatcher
import HTTPServer
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import QueueCore
import Routing
import ServiceLifecycle
import Synchronization

/// `wooqueue bench ingest`: deliveries per second through the webhook intake, and their latency.
struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Measure the webhook intake: signed product deliveries per second and their latency.",
        discussion: """
            Starts an intake (no workers) on a free loopback port, on keys and a spool of its own, and drives it \
            with --concurrency connections sending signed product.updated deliveries built from the fixtures (one \
            product id per request, a fresh delivery id each). Each delivery is verified, routed, de-duplicated, \
            coalesced and group-committed to Redis before its 200. The load generator runs in the same process, so \
            the figures include its cost.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Deliveries to send.")
    var requests: Int = 50_000

    @Option(name: .long, help: "Connections sending at once.")
    var concurrency: Int = 64

    @Option(name: .long, help: "Distinct products in the deliveries.")
    var products: Int = 5000

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    mutating func validate() throws {
        guard requests >= 1, concurrency >= 1, products >= 1 else { throw ValidationError("--requests, --concurrency and --products must be ≥ 1") }
    }

    func run() async throws {
        var configuration = try global.load()
        configuration.redis.keyPrefix = "wqbench-ingest-\(getpid())"
        configuration.http.host = "127.0.0.1"
        configuration.http.port = 0
        let secret = "bench-secret"
        configuration.webhooks.secrets = [secret]
        configuration.webhooks.spoolDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("wqbench-spool-\(getpid())").path
        configuration.routes["product.updated"] = [.init(type: "inventory.upsert", queue: configuration.jobTypes["inventory.upsert"]?.queue ?? "bulk",
                                                          delay: .zero, payload: .resource, coalesce: true)]
        var logger = Logger(label: "wooqueue.bench")
        logger.logLevel = .warning
        let store = try configuration.makeStore(label: "bench")
        let intake = try WebhookIntake(configuration: configuration, store: try configuration.makeStore(label: "intake"), logger: logger)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = HTTPListener.application(
            routes: WebhookRoutes.collection(http: configuration.http, intake: intake, readiness: store, logger: logger),
            host: configuration.http.host, port: configuration.http.port, limits: configuration.http.listenerLimits, logger: logger) {
            portContinuation.yield($0)
        }
        let group = ServiceGroup(configuration: .init(services: [intake, app], logger: logger))
        let server = Task { try await group.run() }
        var portIterator = ports.makeAsyncIterator()
        let port = await portIterator.next() ?? 0
        let progress = ProgressLines()
        defer { try? FileManager.default.removeItem(atPath: configuration.webhooks.spoolDirectory) }

        // Every delivery is a distinct state of one of --products products (its stock is the sequence number):
        // the intake drops a repeated body, so a repeat would measure the cheap path. The body is made and signed
        // (WooCommerce's work, a few µs) before its request's clock starts.
        let products = self.products
        let url = "http://127.0.0.1:\(port)\(configuration.http.webhookPath)"
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        let tally = IngestTally()
        let requests = self.requests

        progress.say("sending \(requests) signed deliveries over \(concurrency) connections to \(url)…")
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { senders in
            for _ in 0..<concurrency {
                senders.addTask {
                    var mine: [Double] = []
                    while true {
                        let sequence = tally.next.wrappingAdd(1, ordering: .relaxed).oldValue
                        if sequence >= requests { break }
                        let bytes = BenchProducts.body(index: sequence % products, stock: sequence)
                        let (body, signature) = (ByteBuffer(bytes: bytes), SignatureVerifier.sign(bytes, secret: secret))
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.headers.add(name: "X-WC-Webhook-Topic", value: "product.updated")
                        request.headers.add(name: "X-WC-Webhook-Delivery-ID", value: "bench-\(sequence)")
                        request.headers.add(name: "X-WC-Webhook-Signature", value: signature)
                        request.body = .bytes(body)
                        let sent = ContinuousClock.now
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 4096)
                        if response.status != .ok { tally.failures.add(1, ordering: .relaxed) }
                        mine.append(sent.duration(to: .now).seconds * 1000)
                    }
                    tally.latencies.withLock { $0 += mine }
                }
            }
            try await senders.waitForAll()
        }
        let elapsed = start.duration(to: .now)
        try await client.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await server.value
        try await store.deleteAllKeys()

        let sorted = tally.latencies.withLock { $0 }.sorted()
        let result = IngestResult(
            requests: requests, concurrency: concurrency, failed: tally.failures.load(ordering: .relaxed),
            requestsPerS: Double(requests) / elapsed.seconds,
            latencyP50Ms: BenchWorkers.percentile(sorted, 0.50), latencyP99Ms: BenchWorkers.percentile(sorted, 0.99),
            peakRssMb: BenchWorkers.peakRSSMegabytes())
        if json {
            print(try JSONOutput.text(result))
        } else {
            print(String(format: """
                deliveries:   %d over %d connections (%d not answered 200)
                throughput:   %.0f deliveries/s
                latency:      p50 %.2f ms, p99 %.2f ms
                peak RSS:     %.1f MB
                """, requests, concurrency, result.failed, result.requestsPerS, result.latencyP50Ms, result.latencyP99Ms, result.peakRssMb))
        }
    }
}

/// What the senders share: the next request number, failures and latencies.
final class IngestTally: Sendable {
    let next = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let latencies = Mutex<[Double]>([])
}

struct IngestResult: Encodable {
    let requests: Int
    let concurrency: Int
    let failed: Int
    let requestsPerS: Double
    let latencyP50Ms: Double
    let latencyP99Ms: Double
    let peakRssMb: Double
}
