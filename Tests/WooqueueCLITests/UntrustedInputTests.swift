import AppConfiguration
import Foundation
import Parsing
import QueueCore
import TestSupport
import Testing

/// What came from outside, seen through the real executable: it never stops a `serve` process, and never reaches
/// an operator's terminal as control sequences.
@Suite(.serialized) struct UntrustedInputTests {
    /// Each of these inputs stopped the whole `serve` process (intake, workers and metrics) with one request or
    /// one job. After each, the same process is still running and still answers.
    @Test func inputsThatKilledServeNowGetAnAnswer() async throws {
        let (port, adminPort) = (try freePort(), try freePort())
        let cli = try CommandRunner(#"""
            {"http": {"port": \#(port)}, "webhooks": {"secrets": ["s3cret"], "spoolDirectory": "\#(NSTemporaryDirectory())wq-untrusted-\#(port)"},
             "admin": {"token": "admin-token", "port": \#(adminPort)}, "routes": {"order.created": [{"type": "noop", "payload": "erp_order"}]}}
            """#)
        let store = try cli.store
        let (server, _, _) = try cli.start(["serve", "--log-level", "error"])
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        let base = "http://127.0.0.1:\(port)", admin = "http://127.0.0.1:\(adminPort)"
        func stillServing(_ after: String) async throws {
            #expect(server.isRunning, "serve stopped after \(after)")
            #expect(try await curl(["\(base)/healthz"]).status == 200, "serve does not answer after \(after)")
        }
        try await waitUntil("serve to answer /healthz", timeout: .seconds(30)) { try await curl(["\(base)/healthz"]).status == 200 }

        // 1. A form body of "=" (or "&&=&") on any /admin action: refused (no CSRF token), not a trap.
        for body in ["=", "&&=&"] {
            for action in ["dlq/retry", "dlq/delete", "process-now", "compare"] {
                let status = try await curl(["-X", "POST", "\(admin)/admin/\(action)", "-H", "Authorization: Bearer admin-token",
                                             "-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", body]).status
                #expect(status == 403, "\(action) with \(body): \(status)")
            }
            try await stillServing("an admin form \"\(body)\"")
        }

        // 2. A signed order whose quantity does not fit an Int64 (WooCommerce itself sends 9223372036854775807).
        for quantity in ["9223372036854775807", "1e999", "1.8e19", "-1e19"] {
            let body = Array(#"{"id": 7, "number": "7", "line_items": [{"sku": "A", "quantity": \#(quantity), "product_id": 1}]}"#.utf8)
            let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("wq-order-\(port).json")
            try Data(body).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let status = try await curl([
                "\(base)/webhooks/woocommerce", "-H", "X-WC-Webhook-Topic: order.created", "-H", "X-WC-Webhook-Delivery-ID: q-\(quantity)",
                "-H", "X-WC-Webhook-Signature: \(try OpenSSL.hmacSHA256Base64(body, key: "s3cret"))", "--data-binary", "@\(file.path)",
            ]).status
            #expect(status == 200, "quantity \(quantity): \(status)")
            try await stillServing("an order with quantity \(quantity)")
        }
        let kept = try await store.deadLetters(queue: "webhooks").compactMap(\.envelope?.lastError)
        #expect(kept.count == 4 && kept.allSatisfy { $0.contains("quantity must be a whole number") }, "\(kept)")
        // serve's own metrics count them (the backend is bootstrapped before the intake makes its counters).
        let scrape = try await curl(["\(admin)/metrics", "-H", "Authorization: Bearer admin-token"]).body
        #expect(scrape.contains(#"wooqueue_webhooks_total{topic="order.created",outcome="unroutable"} 4"#), "\(scrape.prefix(3000))")
        #expect(scrape.contains("wooqueue_spool_stuck 0") && scrape.contains("wooqueue_spool_quarantine_bytes 0"))

        // 3. A job whose payload holds an unpaired surrogate escape: it crashed serve four times, then was
        //    dead-lettered. Now serve's own workers just run it.
        let job = JobEnvelope(type: "noop", queue: "low", payload: Array(#"{"note": "\ud800\u0041"}"#.utf8), maxAttempts: 3, key: "surrogate")
        _ = try await store.enqueue([job])
        try await waitUntil("serve's workers to finish the job", timeout: .seconds(20)) {
            try await store.snapshot(queues: cli.configuration.queues, latestEvents: 0).queues.first { $0.name == "low" }?.done == 1
        }
        try await stillServing("a job with an unpaired surrogate")

        kill(server.processIdentifier, SIGTERM)
        try await waitUntil("serve to stop", timeout: .seconds(40)) { !server.isRunning }
        try? FileManager.default.removeItem(atPath: "\(NSTemporaryDirectory())wq-untrusted-\(port)")
        try await cli.cleanup()
    }

    /// A job key or an error may hold escape sequences (from a webhook, a handler's output): `dlq` and `status`
    /// print them as visible text, so they cannot rewrite the operator's terminal.
    @Test func dlqAndStatusShowControlCharactersInsteadOfSendingThem() async throws {
        let cli = try CommandRunner("{}")
        let store = try cli.store
        var job = JobEnvelope(type: "noop", queue: "low", maxAttempts: 1, key: "\u{1B}]0;owned\u{07}SKU-1")
        job.attempt = 1
        job.lastError = "boom\u{1B}[2J\u{9B}cleared"
        try await store.deadLetter([job])
        #expect(try await cli.run(["enqueue", "--type", "noop", "--queue", "low", "--key", "\u{1B}[31mred", "--payload", #"{"fail": "permanent"}"#]).status == 0)
        #expect(try await cli.run(["drain"], timeout: .seconds(30)).status == 0)
        for arguments in [["dlq", "list"], ["dlq", "show", "--all"], ["status"], ["dlq", "list", "--json"]] {
            let output = try await cli.run(arguments)
            #expect(output.status == 0, "\(arguments): \(output.stderr)")
            #expect(!output.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B || $0.value == 0x07 },
                    "\(arguments) printed a control character")
            #expect(output.stdout.contains("SKU-1") || arguments == ["status"], "\(arguments)")
        }
        #expect(try await cli.run(["dlq", "list"]).stdout.contains(#"\u{1B}]0;owned\u{7}SKU-1"#))
        let shown = try await cli.run(["dlq", "show", "--all"]).stdout
        #expect(shown.contains("\nkey:           \\u{1B}]0;owned\\u{7}SKU-1\n"), "the layout keeps its lines: \(shown)")
        #expect(shown.contains("last failure:") && shown.contains(#"boom\u{1B}[2J\u{9B}cleared"#))
        #expect(try await cli.run(["status"]).stdout.contains(#"\u{1B}[31mred"#))
        try await cli.cleanup()
    }
}
