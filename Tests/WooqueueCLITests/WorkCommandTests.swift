import AppConfiguration
import Foundation
import Parsing
import PostgresClient
import QueueCore
import RedisClient
import TestSupport
import Testing

@Suite(.serialized) struct WorkCommandTests {
    /// Must show 3: two `wooqueue work` processes share 2,000 jobs; one is killed with SIGKILL mid-way; every job
    /// ends done, the recovery is reported, nothing stays active.
    @Test func aKilledWorkerProcessLosesNoJob() async throws {
        let cli = try CommandRunner(#"""
            {"queues": {"low": {"workers": 5}},
             "workers": {"heartbeatInterval": "200ms", "processTimeout": "1s", "recoveryInterval": "200ms"}}
            """#)
        let store = try cli.store
        let jobs = (0..<2000).map {
            JobEnvelope(type: "noop", queue: "low", payload: Array(#"{"sleep_ms": 20}"#.utf8), maxAttempts: 3, key: "job-\($0)")
        }
        try await store.enqueue(jobs)
        let (victim, _, _) = try cli.start(["work"])
        let (survivor, _, survivorErr) = try cli.start(["work"])
        async let survivorLog = readToEnd(survivorErr)

        try await waitUntil("both processes to work", timeout: .seconds(30)) {
            try await store.registeredProcesses().filter(\.alive).count == 2
        }
        try await waitUntil("a quarter of the jobs to be done", timeout: .seconds(60)) {
            try await store.snapshot(queues: cli.configuration.queues, latestEvents: 0).queues.first { $0.name == "low" }!.done >= 500
        }
        let victimRecord = try #require(try await store.registeredProcesses().first { $0.record.pid == Int(victim.processIdentifier) }?.record)
        let heldByVictim = try await store.heldJobs(victimRecord)
        kill(victim.processIdentifier, SIGKILL)
        #expect(heldByVictim > 0, "the victim held jobs when it was killed")

        try await waitUntil("every job to be done", timeout: .seconds(60)) {
            let low = try await store.snapshot(queues: cli.configuration.queues, latestEvents: 0).queues.first { $0.name == "low" }!
            return low.ready == 0 && low.active == 0 && low.delayed == 0 && low.done >= 2000
        }
        for job in jobs {
            #expect(try await store.jobStatus(id: job.id, queues: ["low"])?.status == "done")
        }
        let status = try await cli.run(["status", "--json"])
        #expect(status.status == 0)
        let report = try JSONValue.parse(Array(status.stdout.utf8))
        guard case .array(let queues) = report["queues"], let low = queues.first(where: { $0["name"] == .string("low") }) else {
            Issue.record("status --json has no queues: \(status.stdout)")
            return
        }
        #expect(low["done"] == .number(2000), "each job settled once: the victim's unfinished jobs were recovered, not doubled")
        guard case .number(let recovered) = low["recovered"] else { Issue.record("no recovered count"); return }
        #expect(recovered >= 1)
        #expect(low["active"] == .number(0) && low["dead"] == .number(0))
        print("kill test: victim held \(heldByVictim) jobs when killed; recovered \(Int(recovered))")

        kill(survivor.processIdentifier, SIGTERM)
        try await waitUntil("the survivor to stop on SIGTERM", timeout: .seconds(30)) { !survivor.isRunning }
        #expect(survivor.terminationStatus == 0)
        let log = String(decoding: await survivorLog, as: UTF8.self)
        #expect(log.contains("Recovered the jobs of a dead worker process"))
        #expect(try await store.registeredProcesses().isEmpty, "the dead process was cleared and the survivor deregistered")
        try await cli.cleanup()
    }

    /// `work --metrics-port`: a worker host scraped like a `serve` host, behind the same credential.
    @Test func workServesItsMetricsForAFleetOfWorkerHosts() async throws {
        let cli = try CommandRunner(#"{"http": {"metricsToken": "scrape-token"}, "queues": {"high": {"workers": 2}}}"#)
        let store = try cli.store
        try await store.enqueue((0..<40).map { _ in JobEnvelope(type: "noop", queue: "high", maxAttempts: 1) })
        let port = try freePort()
        let (process, _, err) = try cli.start(["work", "--queues", "high", "--metrics-port", "\(port)"])
        async let log = readToEnd(err)
        let url = "http://127.0.0.1:\(port)/metrics"
        var scrape = ""
        do {
            try await waitUntil("the worker's /metrics to count its 40 jobs", timeout: .seconds(30)) {
                let answer = try await curl([url, "-H", "Authorization: Bearer scrape-token"])
                scrape = answer.body
                return answer.status == 200 && scrape.contains(#"wooqueue_jobs_total{queue="high",type="noop",outcome="done"} 40"#)
            }
            // The cluster's gauges too, as serve's /metrics has them.
            #expect(scrape.contains(#"wooqueue_queue_jobs{queue="high",state="ready"} 0"#), "\(scrape.prefix(2000))")
            #expect(try await curl([url]).status == 401, "no credential, no figures")
            #expect(try await curl([url, "-H", "Authorization: Bearer wrong"]).status == 401)
            #expect(try await curl(["http://127.0.0.1:\(port)/admin"]).status == 404, "a worker host serves no dashboard")
        } catch {
            kill(process.processIdentifier, SIGKILL)
            throw error
        }
        kill(process.processIdentifier, SIGTERM)
        try await waitUntil("work to stop", timeout: .seconds(30)) { !process.isRunning }
        let stderr = String(decoding: await log, as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(stderr.suffix(1500))")
        try await cli.cleanup()
    }

    @Test func workRefusesToOpenMetricsToTheNetworkWithoutACredential() async throws {
        let cli = try CommandRunner("{}")
        let result = try await cli.run(["work", "--metrics-port", "\(try freePort())", "--metrics-host", "0.0.0.0"], timeout: .seconds(20))
        #expect(result.status != 0)
        #expect(result.stderr.contains("would be open to the network"), "stderr: \(result.stderr)")
        try await cli.cleanup()
    }

    @Test func workRefusesARedisThatEvictsKeys() async throws {
        let cli = try CommandRunner("{}")
        let admin = try cli.store.connection
        let original = try await admin.send("CONFIG", "GET", "maxmemory-policy").array?[1].string ?? "noeviction"
        try await admin.send("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        let result: CommandRunner.Output
        do {
            result = try await cli.run(["work"], timeout: .seconds(20))
        } catch {
            try await admin.send("CONFIG", "SET", "maxmemory-policy", original)
            throw error
        }
        try await admin.send("CONFIG", "SET", "maxmemory-policy", original)
        #expect(result.status != 0)
        #expect(result.stderr.contains("maxmemory-policy allkeys-lru"))
        #expect(result.stderr.contains("deletes queued jobs"))
        try await cli.cleanup()
    }
}

@Suite(.serialized) struct ServeCommandTests {
    @Test func serveRefusesToStartWithoutAWebhookSecret() async throws {
        let cli = try CommandRunner("{}")
        let result = try await cli.run(["serve", "--port", "0"], timeout: .seconds(20))
        #expect(result.status != 0)
        #expect(result.stderr.contains("no webhook secret is configured"), "stderr: \(result.stderr)")
        try await cli.cleanup()
    }

    @Test func serveReceivesSignedDeliveriesAndStopsGracefully() async throws {
        let port = try freePort()
        let schema = "cli_\(UInt32.random(in: 0..<UInt32.max))"
        let cli = try CommandRunner(#"""
            {"http": {"port": \#(port)}, "webhooks": {"secrets": ["s3cret"]}, "database": {"url": "\#(TestEnvironment.databaseURL)"},
             "inventory": {"table": "\#(schema).inv_items", "stateSchema": "\#(schema)_state"}}
            """#)
        let store = try cli.store
        let database = PostgresConnection(url: TestEnvironment.databaseURL)
        let migrate = try await cli.run(["migrate"])
        #expect(migrate.status == 0, "migrate: \(migrate.stderr)")
        #expect(migrate.stdout.contains("GRANT SELECT, INSERT, UPDATE ON \"\(schema)\".\"inv_items\""))
        let (server, _, _) = try cli.start(["serve", "--log-level", "warning"])
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }  // never leave it holding the spool
        let body = Array(#"{"id": 42, "sku": "X-42", "date_modified_gmt": "2026-11-20T15:03:11"}"#.utf8)
        // curl stands in for WooCommerce: the exact bytes, signed with the secret.
        let signature = try OpenSSL.hmacSHA256Base64(body, key: "s3cret")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wq-serve-\(port).json")
        try Data(body).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await waitUntil("serve to answer /readyz", timeout: .seconds(30)) {
            try await runToCompletion("/usr/bin/curl", ["-fs", "-o", "/dev/null", "http://127.0.0.1:\(port)/readyz"]) == 0
        }
        #expect(try await runToCompletion("/usr/bin/curl", [
            "-fs", "-o", "/dev/null", "http://127.0.0.1:\(port)/webhooks/woocommerce", "-H", "X-WC-Webhook-Topic: product.updated",
            "-H", "X-WC-Webhook-Delivery-ID: serve-test-1", "-H", "X-WC-Webhook-Signature: \(signature)", "--data-binary", "@\(file.path)",
        ]) == 0)
        try await waitUntil("the upsert to be done by serve's own workers", timeout: .seconds(20)) {
            try await store.snapshot(queues: cli.configuration.queues, latestEvents: 0).queues.first { $0.name == "bulk" }!.done == 1
        }
        let row = try await database.query("SELECT item, id_altek FROM \"\(schema)\".inv_items")
        #expect(row.rows == [["X-42", "42"]])
        // With no job running, a stop takes a bounded moment: not a whole alert check interval (30 s), which a
        // service manager would have cut short with SIGKILL.
        let stopping = ContinuousClock.now
        kill(server.processIdentifier, SIGTERM)
        try await waitUntil("serve to stop on SIGTERM", timeout: .seconds(30)) { !server.isRunning }
        let stop = ContinuousClock.now - stopping
        print("serve stopped \(stop) after SIGTERM")
        #expect(stop < .seconds(5), "serve took \(stop) to stop")
        #expect(server.terminationStatus == 0)
        try await database.query("DROP SCHEMA \"\(schema)\" CASCADE")
        try await database.query("DROP SCHEMA \"\(schema)_state\" CASCADE")
        try await cli.cleanup()
    }
}
