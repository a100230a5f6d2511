import AppConfiguration
import Foundation
import Parsing
import QueueCore
import RedisClient
import TestSupport
import Testing

/// Flow control as users run it: three `wooqueue work` processes against a receiver that records, by its own
/// clock, every request wooqueue's `http` jobs make.
@Suite(.serialized) struct FlowControlTests {
    /// Three worker processes with 2 workers each on the `high` queue, `types` as the job types (JSON members whose
    /// `url` is the receiver's), and a short heartbeat so a dead process is noticed in 1.5 s.
    struct Cluster {
        let cli: CommandRunner
        let receiver: RecordingReceiver
        let store: QueueStore
        var workers: [(process: Process, log: Task<Data, Never>)] = []

        init(types: (RecordingReceiver) -> String, breakerRetries: Bool = false,
             respond: @escaping @Sendable (String, Int) -> RecordingReceiver.Answer) async throws {
            receiver = try await RecordingReceiver.start(respond)
            cli = try CommandRunner(#"""
                {"queues": {"high": {"workers": 2, "retries": 20}},
                 "workers": {"heartbeatInterval": "300ms", "processTimeout": "1500ms", "recoveryInterval": "300ms", "schedulerInterval": "50ms"},
                 "backoff": {"base": "100ms", "cap": "200ms", "jitter": 0},
                 "jobTypes": {\#(types(receiver))}}
                """#)
            store = try cli.store
            for _ in 0..<3 {
                let (process, _, err) = try cli.start(["work", "--queues", "high"])
                workers.append((process, Task.detached { await readToEnd(err) }))
            }
            let store = store
            do {
                try await waitUntil("three worker processes to register", timeout: .seconds(30)) {
                    try await store.registeredProcesses().filter(\.alive).count == 3
                }
            } catch {
                // Never leave them running behind a failed test.
                for worker in workers { kill(worker.process.processIdentifier, SIGKILL) }
                receiver.stop()
                throw error
            }
        }

        /// `count` jobs of `type`, in order; each payload says its number.
        func jobs(_ type: String, _ count: Int) -> [JobEnvelope] {
            (0..<count).map { JobEnvelope(type: type, queue: "high", payload: Array(#"{"n": \#($0)}"#.utf8), maxAttempts: 21) }
        }

        var high: QueueSnapshot.Queue {
            get async throws { try await store.snapshot(queues: cli.configuration.queues, latestEvents: 0).queues.first { $0.name == "high" }! }
        }

        func waitForDone(_ count: Int, timeout: Duration = .seconds(60)) async throws {
            try await waitUntil("\(count) jobs to be done", timeout: timeout) {
                let high = try await high
                return high.done >= count && high.active == 0
            }
        }

        /// Stops the processes (SIGTERM, then SIGKILL if one hangs) and returns their logs.
        func stop() async throws -> String {
            for worker in workers where worker.process.isRunning { kill(worker.process.processIdentifier, SIGTERM) }
            var logs = ""
            for worker in workers {
                try? await waitUntil("a worker process to stop", timeout: .seconds(30)) { !worker.process.isRunning }
                if worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) }
                logs += String(decoding: await worker.log.value, as: UTF8.self)
            }
            receiver.stop()
            try await cli.cleanup()
            return logs
        }
    }

    @Test func aConcurrencyLimitHoldsAcrossThreeProcesses() async throws {
        let cluster = try await Cluster(types: { #""erp": {"queue": "high", "handler": "http", "url": "\#($0.url("erp"))", "concurrency": 2}"# }) { _, _ in
            .init(delay: .milliseconds(150))
        }
        try await cluster.store.enqueue(cluster.jobs("erp", 24))
        try await cluster.waitForDone(24)
        let peak = cluster.receiver.peak("erp")
        print("concurrency 2 over 3 processes × 2 workers: peak \(peak) requests in flight, \(cluster.receiver.calls("erp").count) requests")
        #expect(peak == 2, "never more than the limit, and the limit is used")
        #expect(cluster.receiver.calls("erp").count == 24)
        _ = try await cluster.stop()
    }

    @Test func aRateLimitHoldsInEveryWindowAndReachesTheRate() async throws {
        let cluster = try await Cluster(types: {
            #""mail": {"queue": "high", "handler": "http", "url": "\#($0.url("mail"))", "rateLimit": "20/s", "burst": 5}, "warm": {"queue": "high", "handler": "http", "url": "\#($0.url("warm"))"}"#
        }) { type, _ in
            .init(delay: type == "warm" ? .milliseconds(20) : .zero)
        }
        // Every worker opens its connection to the receiver first: a new connection's set-up delays a request by
        // several milliseconds, which would squeeze the burst against the first tokens after it at the receiver.
        try await cluster.store.enqueue(cluster.jobs("warm", 60))
        try await cluster.waitForDone(60)
        let redis = cluster.store.connection
        try await cluster.store.enqueue(cluster.jobs("mail", 240))
        // Redis commands per second while the type is throttled, all three processes together.
        try await waitUntil("the first requests", timeout: .seconds(10)) { !cluster.receiver.calls.isEmpty }
        let before = try await Self.commandsProcessed(redis)
        let measuredFrom = ContinuousClock.now
        try await Task.sleep(for: .seconds(5))
        let after = try await Self.commandsProcessed(redis)
        let elapsed = Self.seconds(measuredFrom.duration(to: .now))
        let commandsPerSecond = Double(after.all - before.all) / elapsed, callsPerSecond = Double(after.calls - before.calls) / elapsed
        try await cluster.waitForDone(300, timeout: .seconds(60))

        let starts = cluster.receiver.calls("mail").map(\.started).sorted()
        #expect(starts.count == 240)
        var worst = 0.0
        var worstWindow = (0, 0)
        for i in starts.indices {
            for j in i..<starts.count {
                // j - i + 1 requests within starts[j] - starts[i] seconds: at most 20 per second plus the burst.
                let excess = Double(j - i + 1) - (20 * (starts[j] - starts[i]) + 5)
                if excess > worst { (worst, worstWindow) = (excess, (i, j)) }
            }
        }
        if worst > 0 { print("worst window: requests \(worstWindow.0)...\(worstWindow.1), starts \(starts[worstWindow.0...min(worstWindow.1, worstWindow.0 + 12)].map { String(format: "%.4f", $0 - starts[0]) })") }
        let firstTen = starts.filter { $0 - starts[0] < 10 }.count
        let rate = Double(starts.count - 1) / (starts.last! - starts[0])
        print("rate 20/s burst 5: \(firstTen) requests in the first 10 s (\(Int(Double(firstTen) / 2))% of 200), \(String(format: "%.2f", rate))/s overall; worst window \(String(format: "%.3f", worst)) over the bound; while throttled, all 3 processes: \(Int(callsPerSecond)) script calls/s, \(Int(commandsPerSecond)) Redis commands/s counting those inside scripts")
        #expect(worst <= 1e-9, "no window holds more than 20 × t + 5 requests")
        #expect(firstTen >= 160, "at least 80 % of the rate over 10 s")
        _ = try await cluster.stop()
    }

    @Test func aKilledProcessFreesItsSlotsWithinTheRecoveryTime() async throws {
        // The first two calls hang (the ERP is stuck); every later one answers at once.
        let cluster = try await Cluster(types: { #""erp": {"queue": "high", "handler": "http", "url": "\#($0.url("erp"))", "concurrency": 2, "timeout": "120s"}"# }) { _, number in
            .init(delay: number <= 2 ? .seconds(100) : .zero)
        }
        try await cluster.store.enqueue(cluster.jobs("erp", 6))
        try await waitUntil("two calls to hang", timeout: .seconds(20)) { cluster.receiver.calls("erp").count == 2 }
        try await Task.sleep(for: .milliseconds(500))
        #expect(cluster.receiver.calls("erp").count == 2, "the other four wait for a slot")
        // Kill whichever processes hold the two slots.
        let members = try await cluster.store.connection.send("ZRANGE", "\(cluster.store.flowBase("high")):t:erp:running", "0", "-1").array?.compactMap(\.string) ?? []
        let holders = Set(members.compactMap { $0.split(separator: "|").first.flatMap { $0.split(separator: ".").first }.map(String.init) })
        let processes = try await cluster.store.registeredProcesses()
        let victims = processes.filter { holders.contains($0.record.id) }.map(\.record.pid)
        #expect(!victims.isEmpty && victims.count < 3, "slot holders: \(members)")
        let killedAt = cluster.receiver.now
        for pid in victims { kill(pid_t(pid), SIGKILL) }
        try await waitUntil("a third call", timeout: .seconds(20)) { cluster.receiver.calls("erp").count >= 3 }
        let freedAfter = cluster.receiver.calls("erp")[2].started - killedAt
        print("SIGKILL of \(victims.count) slot holder(s): the next call started \(String(format: "%.2f", freedAfter)) s later (process timeout 1.5 s, sweep 1 s)")
        #expect(freedAfter <= 1.5 + 1.0 + 0.5, "freed within the recovery time")
        try await cluster.waitForDone(6, timeout: .seconds(30))
        _ = try await cluster.stop()
    }

    @Test func retryAfterHoldsTheTypeWithoutBurningAttempts() async throws {
        let cluster = try await Cluster(types: { #""erp": {"queue": "high", "handler": "http", "url": "\#($0.url("erp"))", "concurrency": 1}"# }) { _, number in
            number == 1 ? .init(429, retryAfter: "2") : .init()
        }
        try await cluster.store.enqueue(cluster.jobs("erp", 5))
        try await cluster.waitForDone(5)
        let calls = cluster.receiver.calls("erp").sorted { $0.started < $1.started }
        #expect(calls.count == 6 && calls[0].status == 429)
        let gap = calls[1].started - (calls[0].ended ?? 0)
        print("429 with Retry-After: 2 → the next call of the type came \(String(format: "%.2f", gap)) s later")
        #expect(gap >= 1.95, "the whole type waited")
        #expect(calls.allSatisfy { $0.attempt == "1" }, "no attempt burned: \(calls.map(\.attempt))")
        #expect(Set(calls.map(\.id)).count == 5)
        let logs = try await cluster.stop()
        #expect(logs.contains("event=flow-held"))
    }

    @Test func fiveStraight503sOpenTheCircuitAndTheProbeClosesIt() async throws {
        let cluster = try await Cluster(types: {
            #""erp": {"queue": "high", "handler": "http", "url": "\#($0.url("erp"))", "concurrency": 1, "breaker": {"failures": 5, "coolDown": "2s"}}"#
        }) { _, number in
            number <= 5 ? .init(503) : .init()
        }
        try await cluster.store.enqueue(cluster.jobs("erp", 8))
        var sawOpen = false
        try await waitUntil("the circuit to open", timeout: .seconds(20)) {
            sawOpen = try await Self.circuit(cluster) == "open"
            return sawOpen
        }
        try await cluster.waitForDone(8, timeout: .seconds(30))
        #expect(try await Self.circuit(cluster) == "closed")
        let calls = cluster.receiver.calls("erp").sorted { $0.started < $1.started }
        #expect(calls.prefix(5).allSatisfy { $0.status == 503 })
        #expect(calls.count == 13, "5 failures, the probe, 7 more")
        let coolDown = calls[5].started - (calls[4].ended ?? 0)
        print("breaker: after 5 straight 503s the probe came \(String(format: "%.2f", coolDown)) s later; the next call \(String(format: "%.3f", calls[6].started - (calls[5].ended ?? 0))) s after the probe ended")
        #expect(coolDown >= 1.95, "no call during the cool-down")
        #expect(calls[6].started >= calls[5].ended ?? .infinity, "the probe ran alone")
        let logs = try await cluster.stop()
        #expect(logs.contains("event=flow-opened") && logs.contains("event=flow-closed"))
    }

    @Test func pauseStopsStartsWithinASecondAndResumeLosesNothing() async throws {
        let cluster = try await Cluster(types: { #""erp": {"queue": "high", "handler": "http", "url": "\#($0.url("erp"))"}"# }) { _, _ in
            .init(delay: .milliseconds(100))
        }
        let jobs = cluster.jobs("erp", 300)
        try await cluster.store.enqueue(jobs)
        try await waitUntil("40 calls", timeout: .seconds(20)) { cluster.receiver.calls.count >= 40 }
        let pause = try await cluster.cli.run(["pause", "--type", "erp"])
        let pausedAt = cluster.receiver.now
        #expect(pause.status == 0 && pause.stdout.contains("Paused job type erp"), "\(pause.stdout)\(pause.stderr)")
        try await Task.sleep(for: .seconds(3))
        let calls = cluster.receiver.calls
        let late = calls.filter { $0.started > pausedAt + 1 }
        print("pause: \(calls.count) calls before it took hold; the last started \(String(format: "%.2f", (calls.map(\.started).max() ?? 0) - pausedAt)) s after the pause")
        #expect(late.isEmpty, "no start later than 1 s after the pause")
        #expect(calls.count < 300)
        let resume = try await cluster.cli.run(["resume", "--type", "erp"])
        #expect(resume.status == 0 && resume.stdout.contains("Resumed job type erp"), "\(resume.stdout)\(resume.stderr)")
        try await cluster.waitForDone(300)
        let high = try await cluster.high
        #expect(high.done == 300 && high.dead == 0 && high.ready == 0)
        #expect(Set(cluster.receiver.calls.map(\.id)) == Set(jobs.map(\.id)), "every job ran")
        _ = try await cluster.stop()
    }

    /// A per-key limit: one store's orders at most 2 at a time, while other stores' run beside them.
    @Test func aPerKeyLimitHoldsForEachKeyAndNotAcrossThem() async throws {
        let cluster = try await Cluster(types: {
            #""erp": {"queue": "high", "handler": "http", "url": "\#($0.url("erp"))", "concurrency": 2, "concurrencyKey": "payload.store"}"#
        }) { _, _ in .init(delay: .milliseconds(200)) }
        let jobs = (0..<24).map { JobEnvelope(type: "erp", queue: "high", payload: Array(#"{"store": "\#(["a", "b", "c"][$0 % 3])", "n": \#($0)}"#.utf8), maxAttempts: 5) }
        try await cluster.store.enqueue(jobs)
        try await cluster.waitForDone(24)
        let calls = cluster.receiver.calls("erp")
        /// The most calls in flight at once among `calls`, from the receiver's own start and end times.
        func peak(_ calls: [RecordingReceiver.Call]) -> Int {
            var edges: [(at: Double, change: Int)] = []
            for call in calls {
                edges.append((call.started, 1))
                edges.append((call.ended ?? Double.infinity, -1))
            }
            // Ends before starts at the same instant: a call that ended lets the next one in.
            edges.sort { left, right in left.at == right.at ? left.change < right.change : left.at < right.at }
            var inFlight = 0, most = 0
            for edge in edges {
                inFlight += edge.change
                most = max(most, inFlight)
            }
            return most
        }
        let perStore = ["a", "b", "c"].map { store in peak(calls.filter { $0.body.contains(#""store": "\#(store)""#) }) }
        print("per-key limit 2 by store: peaks \(perStore) per store, \(peak(calls)) in all")
        #expect(perStore == [2, 2, 2], "each store at most 2 at once, and its 2 are used")
        #expect(peak(calls) > 2, "the limit is per store, not for the type")
        _ = try await cluster.stop()
    }

    /// Must show 2: a slow type limited to one call at a time never holds up the unlimited type on its queue.
    @Test func aLimitedTypeNeverHoldsUpAnotherTypeOnItsQueue() async throws {
        let cluster = try await Cluster(types: {
            #""slow": {"queue": "high", "handler": "http", "url": "\#($0.url("slow"))", "concurrency": 1}, "fast": {"queue": "high", "handler": "http", "url": "\#($0.url("fast"))"}"#
        }) { type, _ in
            .init(delay: type == "slow" ? .milliseconds(600) : .zero)
        }
        var jobs: [JobEnvelope] = []
        for _ in 0..<6 { jobs += cluster.jobs("slow", 1) + cluster.jobs("fast", 5) }
        try await cluster.store.enqueue(jobs)
        try await cluster.waitForDone(36)
        let events = cluster.receiver.events
        let slowStarts = events.indices.filter { if case .started("slow", _) = events[$0] { true } else { false } }
        let fastEnds = events.indices.filter { if case .ended("fast", _) = events[$0] { true } else { false } }
        #expect(slowStarts.count == 6 && fastEnds.count == 30)
        #expect(fastEnds.allSatisfy { $0 < slowStarts[2] }, "every unlimited job finished before the third limited one started")
        #expect(cluster.receiver.peak("slow") == 1)
        _ = try await cluster.stop()
    }

    /// `drain` runs what it may, skips what a pause keeps, says how much it left, and ends; `status` shows the
    /// pause (and a paused queue as paused, not LATE).
    @Test func drainSkipsPausedWorkAndStatusShowsIt() async throws {
        let cli = try CommandRunner(#"""
            {"queues": {"high": {"workers": 2, "maxDelay": "1s"}},
             "jobTypes": {"erp": {"queue": "high", "handler": "noop", "concurrency": 2}, "mail": {"queue": "high", "handler": "noop"}}}
            """#)
        let store = try cli.store
        let jobs = (0..<6).map { JobEnvelope(type: $0 % 2 == 0 ? "erp" : "mail", queue: "high", maxAttempts: 1) }
        try await store.enqueue(jobs)
        #expect(try await cli.run(["pause", "--type", "erp", "--for", "1h"]).status == 0)
        let drain = try await cli.run(["drain"], timeout: .seconds(60))
        #expect(drain.status == 0, "\(drain.stderr.suffix(1500))")
        #expect(drain.stdout.contains("left 3 job(s) that a pause keeps (3 on high)"), "\(drain.stdout)")
        for job in jobs where job.type == "mail" { #expect(try await store.jobStatus(id: job.id, queues: ["high"])?.status == "done") }
        for job in jobs where job.type == "erp" { #expect(try await store.jobStatus(id: job.id, queues: ["high"])?.status == "pending") }

        let status = try await cli.run(["status"])
        #expect(status.stdout.contains("flow control:"), "\(status.stdout)")
        let erpLine = status.stdout.split(separator: "\n").first { $0.hasPrefix("erp ") }.map(String.init) ?? ""
        #expect(erpLine.contains("2 at once") && erpLine.contains("paused for") && erpLine.contains(" 3 "), "\(erpLine)")
        let json = try JSONValue.parse(Array(try await cli.run(["status", "--json"]).stdout.utf8))
        guard case .array(let flow) = json["flow"], let erp = flow.first(where: { $0["type"] == .string("erp") }) else {
            Issue.record("status --json has no flow entry for erp")
            return
        }
        #expect(erp["concurrency"] == .number(2) && erp["waiting"] == .number(3) && erp["circuit"] == .string("closed"))
        guard case .array(let queues) = json["queues"], let high = queues.first(where: { $0["name"] == .string("high") }) else { return }
        #expect(high["kept_by_pause"] == .number(3) && high["waiting_in_flow"] == .number(3), "\(high)")

        // A whole queue paused: its oldest job is not LATE, it is paused.
        try await store.enqueue([JobEnvelope(type: "mail", queue: "high", maxAttempts: 1, enqueuedAt: WallClock.nowMillis() - 60_000)])
        #expect(try await cli.run(["status"]).stdout.contains("LATE"))
        #expect(try await cli.run(["pause", "--queue", "high"]).status == 0)
        let paused = try await cli.run(["status"]).stdout
        #expect(paused.contains("paused until resumed") && !paused.contains("LATE"), "\(paused)")
        let resume = try await cli.run(["resume", "--type", "erp"])
        #expect(resume.stdout.contains("Resumed job type erp"), "\(resume.stdout)")
        #expect(try await cli.run(["resume", "--queue", "high"]).stdout.contains("Resumed queue high"))
        #expect(try await cli.run(["resume", "--queue", "high"]).stdout.contains("was not paused"))
        #expect(try await cli.run(["pause", "--type", "nope"]).stderr.contains("unknown job type \"nope\""))
        #expect(try await cli.run(["pause"]).stderr.contains("name either --queue or --type"))
        #expect(try await cli.run(["pause", "--queue", "high", "--for", "soon"]).stderr.contains("--for must be a duration"))
        try await cli.cleanup()
    }

    static func circuit(_ cluster: Cluster) async throws -> String? {
        let snapshot = try await cluster.store.snapshot(queues: cluster.cli.configuration.queues, jobTypes: cluster.cli.configuration.jobTypes, latestEvents: 0)
        return snapshot.queues.first { $0.name == "high" }?.flow.types.first { $0.type == "erp" }?.circuit
    }

    /// Commands Redis ran (counting those inside scripts), and script calls (`EVALSHA`: each one round trip).
    static func commandsProcessed(_ redis: RedisConnection) async throws -> (all: Int, calls: Int) {
        func field(_ text: String, _ prefix: String) -> Int {
            let entry = text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(prefix) } ?? ""
            return Int(entry.dropFirst(prefix.count).prefix { $0.isNumber }) ?? 0
        }
        let stats = try await redis.send("INFO", "stats").string ?? ""
        let commandStats = try await redis.send("INFO", "commandstats").string ?? ""
        return (field(stats, "total_commands_processed:"), field(commandStats, "cmdstat_evalsha:calls="))
    }

    static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
