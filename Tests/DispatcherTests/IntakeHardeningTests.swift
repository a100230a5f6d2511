import AppConfiguration
import AsyncHTTPClient
@testable import Dispatcher
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Parsing
import QueueCore
import RedisClient
import Routing
import Testing
import TestSupport

/// What an attacker, or a fault, can send the intake: replays, bodies under the wrong topic, numbers that trapped,
/// slow or idle connections, floods of unsigned or unverified bytes, and a damaged spool. Each against a live
/// server and a real Redis; each ends by checking that the server still answers.
@Suite(.serialized) struct IntakeHardeningTests {
    typealias Server = WebhookIntakeTests.Server

    private func healthy(_ server: Server) async throws -> Bool {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/healthz")
        request.method = .GET
        return try await server.send(request).status == 200
    }

    private func deadLetters(_ server: Server) async throws -> [JobEnvelope] {
        try await server.store.deadLetters(queue: KeptDelivery.queue).compactMap(\.envelope)
    }

    // MARK: - Replays and topics

    /// WooCommerce signs only the body: a captured delivery resent with new delivery ids sent another ERP order
    /// each time. A repeat is now known by its body, whatever its delivery id, and whichever secret signed it.
    @Test func aReplayWithANewDeliveryIDOrTheOtherSecretIsADuplicate() async throws {
        let server = try await Server.start(secrets: [WebhookIntakeTests.secret, "the-new-secret"])
        let order = try Fixtures.bytes("order-created.json")
        #expect(try await server.deliver(order, topic: "order.created", deliveryID: "first").body.contains("accepted"))
        #expect(try await server.deliver(order, topic: "order.created", deliveryID: "replayed-1").body.contains("duplicate"))
        #expect(try await server.deliver(order, topic: "order.created", deliveryID: "").body.contains("duplicate"))
        // During a rotation both secrets are accepted: the same body signed with the new one is still a repeat.
        let resigned = SignatureVerifier.sign(order, secret: "the-new-secret")
        #expect(try await server.deliver(order, topic: "order.created", deliveryID: "replayed-2", signature: resigned).body.contains("duplicate"))
        #expect(try await server.ready("bulk").count == 1, "one stock_sync job, not one per replay")
        try await server.stop()
    }

    /// A captured order resent as `product.deleted` blocked the ERP row. A body that does not fit its topic is
    /// kept for review with the reason, and nothing is enqueued.
    @Test func anOrderResentAsAProductDeletionIsKeptForReviewNotEnqueued() async throws {
        let server = try await Server.start()
        let order = try Fixtures.bytes("order-created.json")
        let answer = try await server.deliver(order, topic: "product.deleted", deliveryID: "forged-topic")
        #expect(answer.status == 200 && answer.body.contains("kept for review"))
        #expect(try await server.ready("bulk").isEmpty, "no inventory.delete")
        let kept = try await deadLetters(server)
        #expect(kept.count == 1)
        #expect(kept.first?.lastError?.contains(#"does not fit the topic "product.deleted""#) == true, "\(kept.first?.lastError ?? "none")")
        #expect(try await healthy(server))
        try await server.stop()
    }

    /// `Int64(Double)` trapped on these quantities and ids and took the whole process down.
    @Test func anOrderWithAHugeQuantityIsKeptForReviewAndTheServerStaysUp() async throws {
        let server = try await Server.start()
        for (index, value) in ["9223372036854775807", "1e999", "1.8e19", "-1e19"].enumerated() {
            let body = Array(#"{"id": \#(900 + index), "number": "\#(900 + index)", "line_items": [{"sku": "A", "quantity": \#(value), "product_id": 5}]}"#.utf8)
            let answer = try await server.deliver(body, topic: "order.created")
            #expect(answer.status == 200 && answer.body.contains("kept for review"), "\(value): \(answer)")
            #expect(try await healthy(server), "the server still answers after quantity \(value)")
        }
        let reasons = try await deadLetters(server).compactMap(\.lastError)
        #expect(reasons.count == 4 && reasons.allSatisfy { $0.contains("line_items[0].quantity must be a whole number") }, "\(reasons)")
        for queue in ["high", "medium", "low", "bulk"] { #expect(try await server.ready(queue).isEmpty) }
        try await server.stop()
    }

    // MARK: - Connections

    /// An idle connection was never closed.
    @Test func anIdleConnectionIsClosed() async throws {
        let server = try await Server.start(http: #", "idleTimeout": "500ms", "readTimeout": "10s""#)
        let connection = try RawConnection(port: server.port)
        let started = ContinuousClock.now
        let read = await connection.read(for: .seconds(8))
        #expect(read.closed, "the connection was still open after 8 s")
        #expect(ContinuousClock.now - started < .seconds(5))
        try await server.stop()
    }

    /// Sends `start`, then `byte` every 200 ms, until the server closes the connection (at most 8 s); how long
    /// that took, or `nil` when it was still open.
    private func trickle(_ server: Server, start: String, byte: String) async throws -> Duration? {
        let connection = try RawConnection(port: server.port)
        let started = ContinuousClock.now
        var open = await connection.send(start)
        while open, ContinuousClock.now - started < .seconds(8) {
            open = await connection.send(byte)
            if await connection.read(for: .milliseconds(200)).closed { open = false }
        }
        return open ? nil : ContinuousClock.now - started
    }

    /// A request head sent a byte at a time is cut off by the idle timeout: the head counts only once it is whole.
    @Test func aHeadTrickledInIsCutOffByTheIdleTimeout() async throws {
        let server = try await Server.start(http: #", "idleTimeout": "1s", "readTimeout": "10s""#)
        let closedAfter = try await trickle(server, start: "POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ", byte: "x")
        #expect(closedAfter != nil, "still reading the trickled head after 8 s")
        #expect(closedAfter.map { $0 < .seconds(4) } == true, "closed after \(closedAfter.map { "\($0)" } ?? "never")")
        try await server.stop()
    }

    /// A body sent a byte at a time kept its connection, and what it had sent, forever: each byte reset the idle
    /// timer. The read timeout bounds the body from its request's head.
    @Test func aRequestTrickledInIsCutOffByTheReadTimeout() async throws {
        let server = try await Server.start(http: #", "idleTimeout": "2s", "readTimeout": "1s""#)
        let closedAfter = try await trickle(
            server, start: "POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\nX-WC-Webhook-Signature: x\r\nContent-Length: 1000\r\n\r\n", byte: " ")
        #expect(closedAfter != nil, "still reading the trickled body after 8 s")
        #expect(closedAfter.map { $0 < .seconds(4) } == true, "closed after \(closedAfter.map { "\($0)" } ?? "never")")
        #expect(try await healthy(server))
        try await server.stop()
    }

    /// Past `http.maxConnections`, a new connection waits for a free one instead of being served.
    @Test func connectionsPastTheLimitWaitForAFreeOne() async throws {
        let server = try await Server.start(http: #", "maxConnections": 2, "idleTimeout": "30s""#)
        let get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        var held: [RawConnection] = []
        for _ in 0..<2 {
            let connection = try RawConnection(port: server.port)
            _ = await connection.send(get)
            #expect(await connection.response(within: .seconds(5))?.hasPrefix("HTTP/1.1 200") == true)
            held.append(connection)  // kept alive and idle: it counts
        }
        let third = try RawConnection(port: server.port)
        _ = await third.send(get)
        #expect(await third.response(within: .seconds(1)) == nil, "a third connection was served while two were open")
        held.removeFirst()  // closes it
        #expect(await third.response(within: .seconds(5))?.hasPrefix("HTTP/1.1 200") == true, "served once a connection was free")
        try await server.stop()
    }

    // MARK: - Unverified bytes

    /// 60 unsigned 2 MiB bodies held 140 MB: the whole body was read before any check. A body without a signature
    /// is now refused after its first bytes, and one announcing more than the limit before any.
    @Test func anUnsignedOrOversizedBodyIsRefusedBeforeItIsRead() async throws {
        let server = try await Server.start()
        let unsigned = try RawConnection(port: server.port)
        _ = await unsigned.send("POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\n\r\n" + String(repeating: "x", count: 100))
        #expect(await unsigned.response(within: .seconds(5))?.hasPrefix("HTTP/1.1 401") == true, "answered without the other 59,900 bytes")
        let oversized = try RawConnection(port: server.port)
        _ = await oversized.send("POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\nX-WC-Webhook-Signature: x\r\nContent-Length: 70000\r\n\r\n")
        #expect(await oversized.response(within: .seconds(5))?.hasPrefix("HTTP/1.1 413") == true)
        #expect(server.intake.countsSoFar.badSignatures == 1)
        try await server.stop()
    }

    /// Bodies with a signature header (genuine or not) are read before they can be checked: together they hold at
    /// most `http.maxUnverifiedBytes`, and a delivery past it is answered 503 (WooCommerce's deliveries are small).
    @Test func unverifiedBodiesHoldAtMostTheirBudget() async throws {
        // Bodies of up to 64 KiB (the test server's http.maxBodyBytes), 100,000 bytes of them at once.
        let server = try await Server.start(http: #", "maxUnverifiedBytes": 100000, "readTimeout": "20s""#)
        let slow = try RawConnection(port: server.port)
        _ = await slow.send("POST /webhooks/woocommerce HTTP/1.1\r\nHost: 127.0.0.1\r\nX-WC-Webhook-Topic: product.updated\r\nX-WC-Webhook-Signature: x\r\nContent-Length: 65000\r\n\r\n"
                            + String(repeating: "x", count: 64900))
        let body = Array(String(repeating: "y", count: 40000).utf8)
        var status = 0
        let started = ContinuousClock.now
        while status != 503, ContinuousClock.now - started < .seconds(10) {
            status = try await server.deliver(body, topic: "product.updated", signature: "forged").status
        }
        #expect(status == 503, "64,900 bytes held and 40,000 more passed the 100,000-byte budget without a refusal")
        #expect(server.intake.countsSoFar.overloaded >= 1)
        _ = await slow.send(String(repeating: "x", count: 100))
        #expect(await slow.response(within: .seconds(5))?.hasPrefix("HTTP/1.1 401") == true)
        #expect(try await server.deliver(body, topic: "product.updated", signature: "forged").status == 401, "the budget was given back")
        try await server.stop()
    }

    /// A refused signature wrote about 60 KB of log per request, as often as anyone cared to send one.
    @Test func refusedSignaturesAreLoggedOnceInAWhileAndClipped() async throws {
        let log = CapturedLog()
        let server = try await Server.start(logger: log.logger(label: "test.intake"))
        let topic = String(repeating: "t", count: 30_000)  // in two headers, under the 80 KiB the server reads
        for _ in 0..<5 { #expect(try await server.deliver(Array("{}".utf8), topic: "product.\(topic)", signature: "forged").status == 401) }
        let lines = log.lines.filter { $0.message.hasPrefix("Refused a delivery") }
        #expect(lines.count == 1, "\(lines.count) lines for 5 refusals within 10 s")
        #expect(lines.allSatisfy { $0.metadata.values.allSatisfy { $0.utf8.count < 200 } }, "a header was quoted whole")
        #expect(server.intake.countsSoFar.badSignatures == 5, "every refusal still counts")
        try await server.stop()
    }

    // MARK: - Spool

    /// A spool file holding a readable, a damaged and another readable record.
    private func damagedSpool() throws -> (directory: String, damaged: [UInt8]) {
        let directory = "\(FileManager.default.temporaryDirectory.path)/wq-spool-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var file: [UInt8] = []
        func record(_ job: [UInt8]) -> SpoolRecord {
            SpoolRecord(claimKey: Array("body:\(UUID().uuidString)".utf8), claimToken: Array("t".utf8), jobs: [job], deadLetter: nil)
        }
        record(JobEnvelope(type: "noop", queue: "bulk", maxAttempts: 1, key: "before").encoded()).encode(into: &file)
        var damaged: [UInt8] = []
        record(Array(#"{"id":"x","type":"noop","queue":"bulk","payload":{"#.utf8)).encode(into: &damaged)
        file += damaged
        record(JobEnvelope(type: "noop", queue: "bulk", maxAttempts: 1, key: "after").encoded()).encode(into: &file)
        try Data(file).write(to: URL(fileURLWithPath: "\(directory)/deliveries.spool"))
        return (directory, damaged)
    }

    private func readiness(_ server: Server) async throws -> (status: Int, body: JSONValue?) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/readyz")
        request.method = .GET
        let answer = try await server.send(request)
        return (answer.status, try? JSONValue.parse(Array(answer.body.utf8)))
    }

    /// One unreadable record kept every record behind it out of Redis, while `/readyz` said ready.
    @Test func anUnreadableSpoolRecordIsQuarantinedAndTheOthersReachRedis() async throws {
        let spool = try damagedSpool()
        let server = try await Server.start(spoolDirectory: spool.directory)
        try await waitUntil("the readable records to reach Redis", timeout: .seconds(10)) { try await server.ready("bulk").count == 2 }
        #expect(try await server.ready("bulk").map(\.key) == ["before", "after"])
        // The replay stores the readable records, then writes the quarantine: wait for it, bounded.
        let quarantinePath = "\(spool.directory)/deliveries.quarantine"
        try await waitUntil("the quarantine to be written", timeout: .seconds(5)) { FileManager.default.fileExists(atPath: quarantinePath) }
        let quarantined = try Data(contentsOf: URL(fileURLWithPath: quarantinePath))
        #expect(Array(quarantined) == spool.damaged, "the damaged record is kept as it was")
        try await waitUntil("/readyz to report the quarantine", timeout: .seconds(5)) {
            try await readiness(server).body?["spool_quarantine_bytes"] == .number(Double(spool.damaged.count))
        }
        #expect(server.intake.spoolReadings.quarantinedBytes == spool.damaged.count, "what the alert reads")
        try await server.stop()
    }

    /// Redis answers but refuses writes (out of memory): the spool cannot be replayed, and `/readyz` says so
    /// until Redis takes writes again.
    @Test func aSpoolRedisRefusesIsReportedStuckUntilItIsReplayed() async throws {
        let spool = try damagedSpool()
        let admin = try TestEnvironment.store(try TestEnvironment.configuration(prefix: TestEnvironment.uniquePrefix("admin")))
        let original = try await admin.connection.send("CONFIG", "GET", "maxmemory").array?.last?.string ?? "0"
        try await admin.connection.send("CONFIG", "SET", "maxmemory", "1")
        let server: Server
        do {
            server = try await Server.start(spoolDirectory: spool.directory)
            try await waitUntil("/readyz to report a stuck spool", timeout: .seconds(10)) {
                let answer = try await readiness(server)
                return answer.status == 503 && answer.body?["spool"] == .string("stuck") && answer.body?["redis"] == .string("reachable")
            }
            #expect(server.intake.spoolReadings.isStuck)
            // The spool was read again every 250 ms while a replay kept failing; now the replays back off.
            let readsBefore = server.intake.spoolReadsSoFar
            try await Task.sleep(for: .seconds(3))  // the window the reads are counted in, not a wait for a state
            let reads = server.intake.spoolReadsSoFar - readsBefore
            #expect(reads <= 6, "\(reads) reads of the whole spool in 3 s (every 250 ms would be 12)")
        } catch {
            try await admin.connection.send("CONFIG", "SET", "maxmemory", original)
            throw error
        }
        try await admin.connection.send("CONFIG", "SET", "maxmemory", original)
        try await waitUntil("the spool to be replayed", timeout: .seconds(40)) { try await server.ready("bulk").count == 2 }
        try await waitUntil("/readyz to be ready again", timeout: .seconds(5)) { try await readiness(server).status == 200 }
        try await server.stop()
    }
}
