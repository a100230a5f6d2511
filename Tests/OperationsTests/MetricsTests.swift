import AppConfiguration
import HTTPServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Operations
import Prometheus
import QueueCore
import TestSupport
import Testing

@Suite struct MetricsTests {
    /// Known contents in every state, on several queues, then one scrape: each gauge must equal both what was put
    /// there and what `wooqueue status` reads, and promtool must accept the exposition.
    @Test func queueGaugesMatchTheQueuesInRedis() async throws {
        try await withFreshQueue("metrics") { configuration, store in
            let now = WallClock.nowMillis()
            func jobs(_ count: Int, on queue: String, runAt: Int64? = nil) -> [JobEnvelope] {
                (0..<count).map { _ in JobEnvelope(type: "noop", queue: queue, maxAttempts: 3, enqueuedAt: now - 5_000, runAt: runAt) }
            }
            _ = try await store.enqueue(jobs(5, on: "high"), now: now)
            _ = try await store.enqueue(jobs(2, on: "medium", runAt: now + 3_600_000), now: now)
            try await store.deadLetter(jobs(3, on: "low"))
            _ = try await store.enqueue(jobs(4, on: "bulk"), now: now)
            // A live process with 2 bulk workers holds 3 of the bulk jobs; a silent one serves nothing now.
            let live = WorkerProcessRecord(id: "metrics-live", host: "h", pid: 1, queues: ["bulk"], workers: [2], startedAt: now, heartbeatAt: now)
            try await store.heartbeat(live, ttl: .seconds(60))
            let silent = WorkerProcessRecord(id: "metrics-silent", host: "h", pid: 2, queues: ["low"], workers: [1], startedAt: 0, heartbeatAt: 0)
            try await store.heartbeat(silent, ttl: .milliseconds(1))
            try await waitUntil("the second process's heartbeat to lapse") { try await store.silentProcesses().map(\.id) == [silent.id] }
            #expect(try await store.fetch(queue: "bulk", holder: WorkerProcessRecord.holder(process: live.id, worker: 0), max: 3, workers: 1).count == 3)

            try await store.deadLetter((0..<2).map { _ in JobEnvelope(type: "webhook", queue: "webhooks", maxAttempts: 1) })
            let metrics = ClusterMetrics(store: store.withNewConnection(label: "metrics"), queues: configuration.queues)
            let text = String(decoding: try await metrics.scrape(), as: UTF8.self)
            let samples = Self.samples(text)
            let expected: [String: [String: Int]] = [
                "high": ["ready": 5, "active": 0, "delayed": 0, "dead": 0],
                "medium": ["ready": 0, "active": 0, "delayed": 2, "dead": 0],
                "low": ["ready": 0, "active": 0, "delayed": 0, "dead": 3],
                "bulk": ["ready": 1, "active": 3, "delayed": 0, "dead": 0],
            ]
            let status = try await store.snapshot(queues: configuration.queues, latestEvents: 0)
            for queue in status.queues {
                let read = ["ready": queue.ready, "active": queue.active, "delayed": queue.delayed, "dead": queue.dead]
                for state in ClusterMetrics.states {
                    let gauge = samples[#"wooqueue_queue_jobs{queue="\#(queue.name)",state="\#(state)"}"#]
                    #expect(gauge == Double(expected[queue.name]?[state] ?? -1), "\(queue.name) \(state) against what the test queued")
                    #expect(gauge == Double(read[state] ?? -1), "\(queue.name) \(state) against wooqueue status")
                }
                let maxDelay = samples[#"wooqueue_queue_max_delay_seconds{queue="\#(queue.name)"}"#]
                #expect(maxDelay == Double(queue.maxDelayMillis) / 1000)
            }
            let highAge = try #require(samples[#"wooqueue_queue_oldest_ready_age_seconds{queue="high"}"#])
            #expect(highAge >= 5, "the oldest ready job on high was due 5 s before it was queued")
            #expect(samples[#"wooqueue_queue_oldest_ready_age_seconds{queue="medium"}"#] == 0, "no job is ready on medium")
            #expect(samples[#"wooqueue_queue_live_workers{queue="bulk"}"#] == 2)
            #expect(samples[#"wooqueue_queue_live_workers{queue="low"}"#] == 0, "the process serving low is silent")
            #expect(samples[#"wooqueue_worker_processes{state="live"}"#] == 1)
            #expect(samples[#"wooqueue_worker_processes{state="silent"}"#] == 1)
            #expect(samples["wooqueue_kept_deliveries"] == 2, "the deliveries kept for review")

            let check = try await Self.promtoolCheck(text)
            #expect(check.status == 0, "promtool check metrics refused the exposition: \(check.output)")
        }
    }

    /// Flow control's gauges: a paused queue and type, a limited type with its limit, a held type; each read from
    /// Redis at the scrape, and zero again once the state is gone.
    @Test func flowGaugesShowLimitsPausesAndHolds() async throws {
        try await withFreshQueue("metrics-flow", #"{"jobTypes": {"erp": {"queue": "medium", "handler": "noop", "concurrency": 3, "breaker": {"failures": 2}}}}"#) { configuration, store in
            let metrics = ClusterMetrics(store: store, queues: configuration.queues, jobTypes: configuration.jobTypes)
            try await store.pause(queue: "low", type: nil, until: nil)
            try await store.pause(queue: "medium", type: "erp", until: nil)
            let erp = FlowGate(type: "erp", limits: configuration.jobTypes["erp"]!.flow, envelope: JobEnvelope(type: "erp", queue: "medium", maxAttempts: 1))
            try await store.release(.init(gate: erp, member: nil, outcome: .hold, holdUntil: WallClock.nowMillis() + 60_000), queue: "medium")
            var samples = Self.samples(String(decoding: try await metrics.scrape(), as: UTF8.self))
            #expect(samples[#"wooqueue_flow_paused{queue="low",type=""}"#] == 1)
            #expect(samples[#"wooqueue_flow_paused{queue="high",type=""}"#] == 0)
            #expect(samples[#"wooqueue_flow_paused{queue="medium",type="erp"}"#] == 1)
            #expect(samples[#"wooqueue_flow_limit{queue="medium",type="erp"}"#] == 3)
            #expect(samples[#"wooqueue_flow_running{queue="medium",type="erp"}"#] == 0)
            #expect(samples[#"wooqueue_flow_circuit{queue="medium",type="erp"}"#] == 0)
            let held = try #require(samples[#"wooqueue_flow_held_seconds{queue="medium",type="erp"}"#])
            #expect(held > 50 && held <= 60)
            try await store.resume(queue: "low", type: nil, limits: [:], reserveMillis: 15_000)
            try await store.resume(queue: "medium", type: "erp", limits: [:], reserveMillis: 15_000)
            let text = String(decoding: try await metrics.scrape(), as: UTF8.self)
            samples = Self.samples(text)
            #expect(samples[#"wooqueue_flow_paused{queue="low",type=""}"#] == 0)
            #expect(samples[#"wooqueue_flow_paused{queue="medium",type="erp"}"#] == 0)
            let check = try await Self.promtoolCheck(text)
            #expect(check.status == 0, "promtool check metrics refused the exposition: \(check.output)")
        }
    }

    @Test func aConfiguredTokenIsRequired() async throws {
        try await withFreshQueue("metrics-token") { configuration, store in
            let router = Router(context: ServerContext.self)
            MetricsEndpoint(metrics: ClusterMetrics(store: store, queues: configuration.queues),
                            access: AdminAccess(settings: configuration.admin, metricsToken: "s3cret-token")).register(on: router)
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                }
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer wrong"]) { response in
                    #expect(response.status == .unauthorized)
                }
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer s3cret-token"]) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains(#"wooqueue_queue_jobs{queue="high",state="ready"} 0"#))
                }
            }
        }
    }

    /// Jobs with every outcome through a worker process: the process counters and histograms count each one once,
    /// under its queue, type and outcome, and a type nobody handles is `unknown`.
    @Test func processMetricsCountEveryOutcome() async throws {
        let harness = try WorkerHarness(name: "metrics-jobs")
        let registry = PrometheusCollectorRegistry()
        try await harness.store.enqueue((0..<3).map { _ in harness.job(queue: "high") }
            + [harness.job(queue: "high", payload: #"{"fail": "permanent"}"#), harness.job("no-such-type", queue: "high")])
        try await harness.run(metrics: PrometheusExport(registry: registry, metrics: ProcessMetric.workers)) { _ in
            try await harness.waitFor("high", done: 3, dead: 2)
        }
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        let samples = Self.samples(text)
        #expect(samples[#"wooqueue_jobs_total{queue="high",type="noop",outcome="done"}"#] == 3)
        #expect(samples[#"wooqueue_jobs_total{queue="high",type="noop",outcome="dead"}"#] == 1)
        #expect(samples[#"wooqueue_jobs_total{queue="high",type="unknown",outcome="dead"}"#] == 1)
        #expect(!text.contains("no-such-type"), "a type without a handler must not become a label value")
        #expect(samples[#"wooqueue_job_duration_seconds_count{queue="high",type="noop"}"#] == 4)
        #expect(samples[#"wooqueue_job_pickup_latency_seconds_count{queue="high"}"#] == 5)
        let check = try await Self.promtoolCheck(text)
        #expect(check.status == 0, "promtool check metrics refused the exposition: \(check.output)")
        try await harness.cleanup()
    }

    /// `name{labels}` → value, from the text exposition.
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// Runs Debian's `promtool check metrics` on `text` (installed by `scripts/services start`).
    static func promtoolCheck(_ text: String) async throws -> (status: Int32, output: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniquePrefix("promtool"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("metrics.txt").path
        let output = directory.appendingPathComponent("output.txt").path
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        let status = try await runToCompletion("/bin/sh", ["-c", #"command -v promtool >/dev/null || { echo "promtool is missing: run scripts/services start (it installs Debian's prometheus package)"; exit 127; }; promtool check metrics < "$0" > "$1" 2>&1"#, input, output])
        return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }
}
