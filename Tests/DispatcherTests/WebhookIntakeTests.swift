import AppConfiguration
import AsyncHTTPClient
import CoreMetrics
@testable import Dispatcher
import HTTPServer
import Foundation
import Logging
import MetricsTestKit
import NIOCore
import NIOHTTP1
import Parsing
import QueueCore
import RedisClient
import Routing
import ServiceLifecycle
import Testing
import TestSupport

/// The dispatcher's HTTP intake, live on a free port, against a real Redis.
@Suite(.serialized) struct WebhookIntakeTests {
    static let secret = "wc&amp;secret&#039;2026"

    /// A running server on its own key prefix.
    struct Server {
        let configuration: WooqueueConfiguration
        let store: QueueStore
        let intake: WebhookIntake
        let port: Int
        let server: IntakeServer

        /// - Parameters:
        ///   - extra: more top-level members, each after a comma.
        ///   - http: more members of the `http` section, each after a comma.
        ///   - secrets: the webhook secrets (JSON string contents).
        ///   - spoolDirectory: the spool's directory (a fresh one by default).
        ///   - logger: where the intake logs (nowhere by default).
        static func start(_ extra: String = "", http: String = "", secrets: [String] = [WebhookIntakeTests.secret],
                          spoolMaxBytes: Int = 1 << 30, spoolDirectory: String? = nil,
                          metrics: any MetricsFactory = MetricsSystem.factory, logger: Logger? = nil) async throws -> Server {
            let spool = spoolDirectory ?? "\(FileManager.default.temporaryDirectory.path)/wq-spool-\(UUID().uuidString)"
            let configuration = try TestEnvironment.configuration(prefix: TestEnvironment.uniquePrefix("intake"), #"""
                {"http": {"port": 0, "maxBodyBytes": 65536\#(http)},
                 "webhooks": {"secrets": [\#(secrets.map { "\"\($0)\"" }.joined(separator: ", "))], "spoolMaxBytes": \#(spoolMaxBytes), "spoolDirectory": "\#(spool)"},
                 "jobTypes": {"send_order_email": {"queue": "high", "handler": "noop"}}\#(extra)}
                """#)
            let store = try TestEnvironment.store(configuration)
            let logger = logger ?? {
                var quiet = Logger(label: "test.intake")
                quiet.logLevel = .critical
                return quiet
            }()
            let server = try await IntakeServer.start(configuration: configuration, store: store, metrics: metrics, logger: logger)
            return Server(configuration: configuration, store: store, intake: server.intake, port: server.port, server: server)
        }

        func stop() async throws {
            await server.stop()
            try await store.deleteAllKeys()
            try? FileManager.default.removeItem(atPath: configuration.webhooks.spoolDirectory)
        }

        /// Posts like WooCommerce: JSON body, X-WC-* headers, signature over the exact bytes.
        func deliver(_ body: [UInt8], topic: String, deliveryID: String = UUID().uuidString, signature: String? = nil,
                     signed: Bool = true) async throws -> (status: Int, body: String) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhooks/woocommerce")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)")
            request.headers.add(name: "X-WC-Webhook-Source", value: "https://shop.example.com/")
            request.headers.add(name: "X-WC-Webhook-Topic", value: topic)
            request.headers.add(name: "X-WC-Webhook-Resource", value: String(topic.split(separator: ".")[0]))
            request.headers.add(name: "X-WC-Webhook-Event", value: String(topic.split(separator: ".")[1]))
            request.headers.add(name: "X-WC-Webhook-ID", value: "12")
            request.headers.add(name: "X-WC-Webhook-Delivery-ID", value: deliveryID)
            if signed {
                request.headers.add(name: "X-WC-Webhook-Signature", value: signature ?? SignatureVerifier.sign(body, secret: WebhookIntakeTests.secret))
            }
            request.body = .bytes(ByteBuffer(bytes: body))
            return try await send(request)
        }

        func send(_ request: HTTPClientRequest) async throws -> (status: Int, body: String) {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }

        func ready(_ queue: String) async throws -> [JobEnvelope] {
            let values = try await store.connection.send("LRANGE", store.keys(queue).ready, "0", "-1").array ?? []
            return try values.compactMap(\.bytes).reversed().map { try JobEnvelope(decoding: $0) }  // oldest first
        }
    }

    /// A product fixture with another modification time and name.
    static func product(_ name: String, modified: String) throws -> [UInt8] {
        let text = String(decoding: try Fixtures.bytes("product-simple.json"), as: UTF8.self)
            .replacingOccurrences(of: #""date_modified_gmt": "2026-11-20T15:03:11""#, with: #""date_modified_gmt": "\#(modified)""#)
            .replacingOccurrences(of: #""name": "Premium Quality Tee""#, with: #""name": "\#(name)""#)
        return Array(text.utf8)
    }

    @Test func deliveriesAreCountedByTopicAndOutcome() async throws {
        let metrics = TestMetrics()
        let server = try await Server.start(metrics: metrics)
        let body = try Fixtures.bytes("product-simple.json")
        #expect(try await server.deliver(body, topic: "product.updated", deliveryID: "d-1").status == 200)
        #expect(try await server.deliver(body, topic: "product.updated", deliveryID: "d-1").status == 200)
        #expect(try await server.deliver(body, topic: "product.updated", signature: "forged").status == 401)
        // The topic header is the sender's word: an unrouted one must not become a label value.
        #expect(try await server.deliver(body, topic: "made.up\(UInt32.random(in: 0...UInt32.max))", signature: "forged").status == 401)
        func count(_ topic: String, _ outcome: String) throws -> Int64 {
            try metrics.expectCounter("wooqueue_webhooks_total", [("topic", topic), ("outcome", outcome)]).totalValue
        }
        #expect(try count("product.updated", "accepted") == 1)
        #expect(try count("product.updated", "duplicate") == 1)
        #expect(try count("product.updated", "bad_signature") == 1)
        #expect(try count("other", "bad_signature") == 1)
        #expect(metrics.counters(label: "wooqueue_webhooks_total").count == 4)
        try await server.stop()
    }

    @Test func signedDeliveriesAreAcceptedAndRouted() async throws {
        let server = try await Server.start()
        let answer = try await server.deliver(try Fixtures.bytes("product-simple.json"), topic: "product.updated")
        #expect(answer.status == 200 && answer.body.contains(#""accepted""#))
        let bulk = try await server.ready("bulk")
        #expect(bulk.map(\.type) == ["inventory.upsert"] && bulk[0].key == "TEE-PQ-001")
        let order = try await server.deliver(try Fixtures.bytes("order-created.json"), topic: "order.created")
        #expect(order.status == 200)
        #expect(try await server.ready("bulk").map(\.type) == ["inventory.upsert", "stock_sync"])
        #expect(try await server.intake.countsSoFar.accepted == 2)
        try await server.stop()
    }

    @Test func badOrMissingSignaturesAreRefusedAndNothingIsEnqueued() async throws {
        let server = try await Server.start()
        let body = try Fixtures.bytes("product-simple.json")
        let forged = try await server.deliver(body, topic: "product.updated", signature: SignatureVerifier.sign(body, secret: "guess"))
        #expect(forged.status == 401 && forged.body.contains("X-WC-Webhook-Signature"))
        let decodedSecretUsedAsIs = try await server.deliver(body, topic: "product.updated",
                                                             signature: SignatureVerifier.sign(body, secret: "wc&amp;amp;secret&amp;#039;2026"))
        #expect(decodedSecretUsedAsIs.status == 401)
        #expect(try await server.deliver(body, topic: "product.updated", signed: false).status == 401)
        #expect(try await server.ready("bulk").isEmpty)
        #expect(server.intake.countsSoFar.badSignatures == 3)
        try await server.stop()
    }

    @Test func wooCommercesPingGetsExactly200AndEnqueuesNothing() async throws {
        let server = try await Server.start()
        var ping = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/webhooks/woocommerce")
        ping.method = .POST
        ping.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        ping.body = .bytes(ByteBuffer(string: "webhook_id=12"))
        #expect(try await server.send(ping).status == 200)
        for queue in ["high", "medium", "low", "bulk"] { #expect(try await server.ready(queue).isEmpty) }
        #expect(server.intake.countsSoFar.pings == 1)
        try await server.stop()
    }

    @Test func aRepeatedDeliveryIDIsEnqueuedOnce() async throws {
        let server = try await Server.start()
        let body = try Fixtures.bytes("order-created.json")
        #expect(try await server.deliver(body, topic: "order.created", deliveryID: "7b9a1e0c").body.contains("accepted"))
        #expect(try await server.deliver(body, topic: "order.created", deliveryID: "7b9a1e0c").body.contains("duplicate"))
        #expect(try await server.ready("bulk").count == 1)
        try await server.stop()
    }

    @Test func twoEventsSharingADeliveryIDAreBothKept() async throws {
        // WooCommerce's delivery id is a hash of the webhook id and the current second: two different events
        // from one webhook in the same second share it.
        let server = try await Server.start()
        let first = try Self.product("first", modified: "2026-11-20T17:00:00")
        let second = Array(String(decoding: try Self.product("second", modified: "2026-11-20T17:00:00"), as: UTF8.self)
            .replacingOccurrences(of: #""id": 794"#, with: #""id": 795"#).utf8)
        #expect(try await server.deliver(first, topic: "product.updated", deliveryID: "same-second").body.contains("accepted"))
        #expect(try await server.deliver(second, topic: "product.updated", deliveryID: "same-second").body.contains("accepted"))
        #expect(try await server.deliver(second, topic: "product.updated", deliveryID: "same-second").body.contains("duplicate"))
        #expect(try await server.ready("bulk").count == 2)
        try await server.stop()
    }

    @Test func fiftyConcurrentUpdatesOfAProductLeaveOnePendingUpsertWithTheNewestState() async throws {
        let server = try await Server.start()
        let bodies = try (0..<50).map { try Self.product("Tee v\($0)", modified: String(format: "2026-11-20T16:%02d:00", $0)) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for body in bodies.shuffled() { group.addTask { try await server.deliver(body, topic: "product.updated").status } }
            for try await status in group { #expect(status == 200) }
        }
        let pending = try await server.ready("bulk")
        #expect(pending.count == 1, "one pending upsert for the product")
        let taken = try await server.store.fetch(queue: "bulk", holder: "test.0", max: 10, workers: 1)
        #expect(String(decoding: taken[0], as: UTF8.self).contains(#""name": "Tee v49""#), "the newest state by date_modified_gmt")
        try await server.stop()
    }

    @Test func anOlderDeliveryArrivingAfterANewerOneDoesNotOverwriteIt() async throws {
        let server = try await Server.start()
        #expect(try await server.deliver(try Self.product("newer", modified: "2026-11-20T17:00:00"), topic: "product.updated").status == 200)
        #expect(try await server.deliver(try Self.product("older", modified: "2026-11-20T16:00:00"), topic: "product.updated").status == 200)
        let taken = try await server.store.fetch(queue: "bulk", holder: "test.0", max: 10, workers: 1)
        #expect(taken.count == 1 && String(decoding: taken[0], as: UTF8.self).contains(#""name": "newer""#))
        try await server.stop()
    }

    @Test func anOversizeBodyGets413() async throws {
        let server = try await Server.start()
        let huge = Array(#"{"id": 1, "pad": "\#(String(repeating: "x", count: 70_000))"}"#.utf8)
        #expect(try await server.deliver(huge, topic: "product.updated").status == 413)
        #expect(try await server.ready("bulk").isEmpty)
        try await server.stop()
    }

    @Test func aSignedBodyThatIsNotJSONIsAnswered200AndKeptForReview() async throws {
        let server = try await Server.start()
        let broken = Array(#"{"id": 794, "name": "Tee", "#.utf8)
        let answer = try await server.deliver(broken, topic: "product.updated", deliveryID: "broken-1")
        #expect(answer.status == 200 && answer.body.contains("kept for review"))
        let unrouted = try await server.deliver(Array("{}".utf8), topic: "coupon.created", deliveryID: "coupon-1")
        #expect(unrouted.status == 200)
        let letters = try await server.store.deadLetters(queue: KeptDelivery.queue).compactMap(\.envelope)
        #expect(letters.count == 2)
        let byKey = Dictionary(uniqueKeysWithValues: letters.map { ($0.key ?? "", $0) })
        #expect(byKey["broken-1"]?.lastError?.contains("not valid JSON") == true)
        #expect(byKey["broken-1"]?.payloadText.contains(#"{\"id\": 794, \"name\": \"Tee\", "#) == true, "the raw body is kept")
        #expect(byKey["coupon-1"]?.lastError?.contains(#"no route for topic "coupon.created""#) == true)
        for queue in ["high", "medium", "low", "bulk"] { #expect(try await server.ready(queue).isEmpty) }
        try await server.stop()
    }

    /// Must show 2: Redis stopped during a stream of 1,000 deliveries and restarted. Every acknowledged delivery
    /// ends up as a job, none twice, in order per product.
    @Test func redisStoppedMidStreamLosesNoAcknowledgedDelivery() async throws {
        let server = try await Server.start(#", "routes": {"product.updated": [{"type": "noop", "queue": "bulk"}]}"#)
        let services = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services").path
        var acknowledged = 0
        for sequence in 0..<1000 {
            if sequence == 300 { #expect(try await runToCompletion(services, ["stop-redis"]) == 0) }
            if sequence == 700 { #expect(try await runToCompletion(services, ["start-redis"]) == 0) }
            let product = sequence % 50 + 1  // WooCommerce ids start at 1
            let body = Array(#"{"id": \#(product), "sku": "P-\#(product)", "date_modified_gmt": "2026-11-20T10:00:\#(sequence / 50)", "seq": \#(sequence)}"#.utf8)
            let answer = try await server.deliver(body, topic: "product.updated", deliveryID: "stream-\(sequence)")
            if answer.status == 200 { acknowledged += 1 } else { Issue.record("delivery \(sequence) answered \(answer.status): \(answer.body)") }
        }
        #expect(acknowledged == 1000)
        #expect(server.intake.countsSoFar.spooled >= 300, "the deliveries during the outage went to the spool")
        try await waitUntil("every delivery to be a job in Redis", timeout: .seconds(30)) {
            (try? await server.store.connection.send("LLEN", server.store.keys("bulk").ready).int) == 1000
        }
        let jobs = try await server.ready("bulk")
        let ids = jobs.compactMap { $0.source?.split(separator: ":").last.map(String.init) }
        #expect(ids.count == 1000 && Set(ids).count == 1000, "none lost, none twice")
        for product in 1...50 {
            let sequences = jobs.filter { $0.key == "P-\(product)" }.compactMap { job -> Int? in
                if case .number(let n) = (try? JSONValue.parse(job.payload))?["seq"] { return Int(n) }
                return nil
            }
            #expect(sequences == sequences.sorted() && sequences.count == 20, "product \(product) in delivery order")
        }
        #expect(await server.intake.spooledBytes() == 0, "the spool was replayed and emptied")
        try await server.stop()
    }

    /// What `webhooks status` and the watchdog read: per topic the last signed delivery, per webhook id the refused
    /// signatures (only numeric ids: an unsigned request names what it likes).
    @Test func theIntakeRecordsTheLastDeliveryPerTopicAndRefusalsPerWebhook() async throws {
        let server = try await Server.start()
        let before = WallClock.nowMillis()
        let body = try Fixtures.bytes("product-simple.json")
        #expect(try await server.deliver(body, topic: "product.updated").status == 200)
        for _ in 0..<3 { #expect(try await server.deliver(body, topic: "product.updated", signature: "forged").status == 401) }
        var forged = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/webhooks/woocommerce")
        forged.method = .POST
        forged.headers.add(name: "X-WC-Webhook-ID", value: "12; DROP")
        forged.headers.add(name: "X-WC-Webhook-Signature", value: "forged")
        forged.body = .bytes(ByteBuffer(bytes: body))
        #expect(try await server.send(forged).status == 401)
        var activity = try await server.store.intakeActivity()
        try await waitUntil("the intake to write what it saw", timeout: .seconds(10)) {
            activity = try await server.store.intakeActivity()
            return activity.refused["12"] == 3 && activity.lastDelivery["product.updated"] != nil
        }
        let last = try #require(activity.lastDelivery["product.updated"])
        #expect(last >= before && last <= WallClock.nowMillis())
        #expect(activity.lastDelivery.count == 1, "refused deliveries set no time: \(activity.lastDelivery)")
        #expect(activity.refused == ["12": 3], "a webhook id that is not a number is not recorded: \(activity.refused)")
        try await server.stop()
    }

    /// `redis.waitReplicas: 1` with no replica: every delivery is written, but not confirmed, so it is spooled (not
    /// acknowledged as safe) and stays there. Once a replica follows, the replay's `WAIT` succeeds and the spool
    /// empties, and the marks make the replay write no job a second time.
    @Test func deliveriesTheReplicasDidNotConfirmStayInTheSpoolUntilTheyDo() async throws {
        let server = try await Server.start(#", "routes": {"product.updated": [{"type": "noop", "queue": "bulk"}]}, "redis": {"waitReplicas": 1, "waitTimeout": "50ms"}"#)
        let primary = try RedisConfiguration(url: server.configuration.redis.url)
        let shortfallsBefore = RedisHealth.replicationShortfalls
        for sequence in 0..<40 {
            let body = Array(#"{"id": \#(sequence + 1), "sku": "W-\#(sequence)", "date_modified_gmt": "2026-11-20T10:00:00"}"#.utf8)
            let answer = try await server.deliver(body, topic: "product.updated", deliveryID: "wait-\(sequence)")
            #expect(answer.status == 200, "a spooled delivery is still acknowledged: it is on disk")
        }
        #expect(server.intake.countsSoFar.spooled == 40 && server.intake.countsSoFar.accepted == 0,
                "no replica confirmed them: \(server.intake.countsSoFar)")
        #expect(RedisHealth.replicationShortfalls > shortfallsBefore)
        #expect(await server.intake.spooledBytes() > 0)

        let replica = try await RedisServerProcess(arguments: ["--replicaof", primary.host, "\(primary.port)"])
        defer { replica.stop() }
        try await waitUntil("the replica to confirm, and the spool to empty", timeout: .seconds(30)) {
            await server.intake.spooledBytes() == 0
        }
        let jobs = try await server.ready("bulk")
        #expect(jobs.count == 40 && Set(jobs.compactMap(\.key)).count == 40, "each delivery once: \(jobs.count) jobs")
        // And they are on the replica: a failover now would keep them.
        let onReplica = try await RedisConnection(url: replica.url, label: "replica").send("LLEN", server.store.keys("bulk").ready).int
        #expect(onReplica == 40)
        try await server.stop()
    }

    @Test func aFullSpoolAnswers503AndKeepsWhatItAcknowledged() async throws {
        let server = try await Server.start(#", "routes": {"product.updated": [{"type": "noop", "queue": "bulk"}]}"#, spoolMaxBytes: 65536)
        let services = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services").path
        #expect(try await runToCompletion(services, ["stop-redis"]) == 0)
        let product = try Fixtures.bytes("product-simple.json")  // about 2 KB: the 64 KiB spool holds a few dozen
        var acknowledged = 0
        var refused = 0
        for sequence in 0..<60 {
            let body = Array(#"{"seq": \#(sequence), "#.utf8) + product.drop { $0 != UInt8(ascii: "\"") }  // a distinct event each time
            let status = try await server.deliver(body, topic: "product.updated", deliveryID: "full-\(sequence)").status
            if status == 200 { acknowledged += 1 } else if status == 503 { refused += 1 }
            #expect(status == 200 || status == 503)
        }
        #expect(try await runToCompletion(services, ["start-redis"]) == 0)
        #expect(acknowledged > 10 && refused > 0, "acknowledged \(acknowledged), refused \(refused)")
        try await waitUntil("the spooled deliveries to reach Redis", timeout: .seconds(30)) {
            (try? await server.store.connection.send("LLEN", server.store.keys("bulk").ready).int) == acknowledged
        }
        try await server.stop()
    }

    @Test func healthAndReadiness() async throws {
        let server = try await Server.start()
        for path in ["/healthz", "/readyz"] {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)\(path)")
            request.method = .GET
            #expect(try await server.send(request).status == 200, "\(path)")
        }
        try await server.stop()
    }
}
