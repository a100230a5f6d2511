import AppConfiguration
import Foundation
import HTTPTypes
import Synchronization
import MetricsTestKit
import QueueCore
import RedisClient
import TestSupport
import Testing
@testable import Workers

/// The reliable worker pool against a real Redis. Serialized: the timing assertions need the machine's attention.
@Suite(.serialized) struct WorkerPoolTests {
    @Test func jobsOfAQueueRunInFIFOOrder() async throws {
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 1}}}"#)
        let jobs = (0..<200).map { harness.job(key: "job-\($0)") }
        try await harness.store.enqueue(Array(jobs[..<100]))
        try await harness.store.enqueue(Array(jobs[100...]))
        try await harness.run { _ in
            try await harness.waitFor("low", done: 200)
        }
        #expect(harness.observer.started.map(\.envelope.id) == jobs.map(\.id))
        try await harness.cleanup()
    }

    @Test func highJobStartsWithin100msBehindABulkBacklogOf100000() async throws {
        let harness = try WorkerHarness()
        for chunk in 0..<10 {
            try await harness.store.enqueue((0..<10_000).map { harness.job(queue: "bulk", key: "bulk-\(chunk * 10_000 + $0)") })
        }
        try await harness.run { _ in
            try await waitUntil("the bulk backlog to be worked on") { harness.observer.settledCount >= 2000 }
            let high = harness.job(queue: "high", key: "urgent")
            let sent = ContinuousClock.now
            try await harness.store.enqueue([high])
            try await waitUntil("the high job to start", timeout: .seconds(5), poll: .milliseconds(1)) {
                harness.observer.started.contains { $0.envelope.id == high.id }
            }
            let startedAt = try #require(harness.observer.started.first { $0.envelope.id == high.id }?.at)
            let pickup = sent.duration(to: startedAt)
            let bulk = try await harness.queue("bulk")
            #expect(bulk.ready > 50_000, "the backlog must still be there when the high job runs")
            #expect(pickup < .milliseconds(100), "high job started \(pickup) after enqueue")
        }
        try await harness.cleanup()
    }

    @Test func anIdleWorkerRunsAJobItReceivesWhileBlockedAfterSlowJobs() async throws {
        // Jobs of 120 ms make a worker fetch one at a time; jobs it then receives while blocked in BLMOVE must
        // still run.
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 1}}}"#)
        try await harness.run { _ in
            for round in 1...3 {
                try await waitUntil("the worker to block in BLMOVE") {
                    let clients = try await harness.store.connection.send("CLIENT", "LIST", "TYPE", "normal").string ?? ""
                    return clients.split(separator: "\n").contains { $0.contains("cmd=blmove") && $0.contains("flags=b") }
                }
                // Two at once: BLMOVE takes one, the follow-up fetch finds the other waiting.
                try await harness.store.enqueue([harness.job(payload: #"{"sleep_ms": 120}"#, key: "slow-\(round)a"),
                                                 harness.job(payload: #"{"sleep_ms": 120}"#, key: "slow-\(round)b")])
                try await harness.waitFor("low", done: 2 * round, timeout: .seconds(5))
            }
        }
        let low = try await harness.queue("low")
        #expect(low.active == 0 && low.ready == 0)
        try await harness.cleanup()
    }

    @Test func retriesFollowTheBackoffScheduleThenTheDeadLetterKeepsTheError() async throws {
        let harness = try WorkerHarness(#"""
            {"queues": {"low": {"workers": 1, "retries": 3}},
             "backoff": {"base": "200ms", "factor": 2, "jitter": 0},
             "workers": {"schedulerInterval": "10ms"}}
            """#)
        let job = harness.job(payload: #"{"fail": "transient"}"#, key: "flaky")
        try await harness.store.enqueue([job])
        try await harness.run { _ in
            try await harness.waitFor("low", done: 0, dead: 1)
        }
        let starts = harness.observer.started.filter { $0.envelope.id == job.id }.map(\.at)
        #expect(starts.count == 4, "one run and three retries")
        let gaps = zip(starts, starts.dropFirst()).map { $0.duration(to: $1) }
        for (gap, expected) in zip(gaps, [200, 400, 800].map { Duration.milliseconds($0) }) {
            #expect(gap >= expected - .milliseconds(5) && gap < expected + .milliseconds(250), "gap \(gap), expected \(expected)")
        }
        let letter = try #require(try await harness.store.deadLetters(queue: "low").first?.envelope)
        #expect(letter.id == job.id)
        #expect(letter.attempt == 4 && letter.maxAttempts == 4)
        #expect(letter.firstError == "noop asked to fail (transient)")
        #expect(letter.lastError == "noop asked to fail (transient)")
        #expect(letter.firstFailedAt != nil && letter.lastFailedAt! > letter.firstFailedAt! && letter.deadAt != nil)
        #expect(letter.payloadText == #"{"fail": "transient"}"#)
        try await harness.cleanup()
    }

    @Test func defaultBackoffIsOneTwoFourEightSixteenSeconds() throws {
        let policy = BackoffPolicy(try WooqueueConfiguration.defaults.backoff)
        #expect((1...5).map { policy.delay(afterFailure: $0, random: 0) } == [1, 2, 4, 8, 16].map { Duration.seconds($0) })
        #expect(policy.delay(afterFailure: 1, random: 1) == .milliseconds(1100), "±10 % jitter")
        #expect(policy.delay(afterFailure: 1, random: -1) == .milliseconds(900))
        #expect(policy.delay(afterFailure: 30, random: 0) == .seconds(600), "capped")
    }

    @Test func deadLetterRetryBringsAJobBackAndItSucceeds() async throws {
        let failing = Mutex(true)
        let server = try await TestHTTPServer.start { _ in
            failing.withLock { $0 } ? (.unprocessableContent, "order 727 unknown") : (.ok, "ok")
        }
        defer { server.stop() }
        let harness = try WorkerHarness(#"{"jobTypes": {"sync_erp": {"queue": "medium", "handler": "http", "url": "\#(server.url)"}}}"#)
        let job = harness.job("sync_erp", payload: #"{"order": "727"}"#, key: "727")
        try await harness.store.enqueue([job])
        try await harness.run { _ in
            try await harness.waitFor("medium", done: 0, dead: 1)
            let letters = try await harness.store.deadLetters(queue: "medium")
            #expect(letters.first?.envelope?.lastError?.contains("HTTP 422: order 727 unknown") == true)
            failing.withLock { $0 = false }
            #expect(try await harness.store.retryDeadLetters(letters) == 1)
            try await harness.waitFor("medium", done: 1)
        }
        #expect(try await harness.store.jobStatus(id: job.id, queues: ["medium"])?.status == "done")
        #expect(server.requests.count == 2)
        try await harness.cleanup()
    }

    @Test func aTimedOutJobFreesItsSlotForTheNextJob() async throws {
        let harness = try WorkerHarness(#"""
            {"queues": {"low": {"workers": 1}},
             "jobTypes": {"slow": {"queue": "low", "handler": "noop", "timeout": "300ms", "retries": 0}}}
            """#)
        let slow = harness.job("slow", payload: #"{"sleep_ms": 20000}"#)
        let fast = harness.job(key: "fast")
        try await harness.store.enqueue([slow, fast])
        let start = ContinuousClock.now
        try await harness.run { _ in
            try await harness.waitFor("low", done: 1, dead: 1, timeout: .seconds(10))
        }
        #expect(start.duration(to: .now) < .seconds(5), "the single slot was freed long before the slow job's 20 s")
        let letter = try #require(try await harness.store.deadLetters(queue: "low").first?.envelope)
        #expect(letter.id == slow.id)
        #expect(letter.lastError?.contains("timed out after 300ms") == true)
        try await harness.cleanup()
    }

    @Test func gracefulShutdownLosesNothing() async throws {
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 2}}, "workers": {"shutdownGrace": "5s"}}"#)
        let jobs = (0..<300).map { harness.job(payload: #"{"sleep_ms": 10}"#, key: "j\($0)") }
        try await harness.store.enqueue(jobs)
        var processID = ""
        try await harness.run { process in
            processID = process.id
            try await waitUntil("some jobs to finish") { harness.observer.settledCount >= 30 }
        }
        let low = try await harness.queue("low")
        #expect(low.active == 0)
        for worker in 0..<2 {
            let list = harness.store.keys("low").active(holder: WorkerProcessRecord.holder(process: processID, worker: worker))
            #expect(try await harness.store.connection.send("EXISTS", list) == .integer(0))
        }
        #expect(low.done + low.ready == 300, "done \(low.done) + ready \(low.ready)")
        #expect(low.done >= 30 && low.ready > 0)
        // Every job is accounted for exactly once: done, or back in the ready list.
        let readyIDs = (try await harness.store.connection.send("LRANGE", harness.store.keys("low").ready, "0", "-1").array ?? [])
            .compactMap(\.bytes).compactMap(JobEnvelope.id(of:))
        var doneIDs: [String] = []
        for job in jobs where try await harness.store.jobStatus(id: job.id, queues: ["low"])?.status == "done" { doneIDs.append(job.id) }
        #expect(Set(readyIDs + doneIDs) == Set(jobs.map(\.id)) && readyIDs.count + doneIDs.count == 300)
        #expect(try await harness.store.registeredProcesses().isEmpty)
        try await harness.cleanup()
    }

    @Test func aJobStillRunningAfterTheGracePeriodGoesBackToTheHeadOfItsQueue() async throws {
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 1}}, "workers": {"shutdownGrace": "200ms"}}"#)
        let long = harness.job(payload: #"{"sleep_ms": 30000}"#, key: "long")
        let next = harness.job(key: "next")
        try await harness.store.enqueue([long, next])
        let stopRequested = ContinuousClock.now
        try await harness.run { _ in
            try await waitUntil("the long job to start") { harness.observer.started.count == 1 }
        }
        #expect(stopRequested.duration(to: .now) < .seconds(5))
        let ready = (try await harness.store.connection.send("LRANGE", harness.store.keys("low").ready, "0", "-1").array ?? []).compactMap(\.bytes)
        #expect(ready.map { try? JobEnvelope(decoding: $0).key } == ["next", "long"], "the interrupted job is next in line (right end)")
        let back = try JobEnvelope(decoding: ready[1])
        #expect(back.attempt == 0, "an interrupted job does not lose an attempt")
        try await harness.cleanup()
    }

    @Test func aJobThatKeepsKillingWorkersIsDeadLettered() async throws {
        let harness = try WorkerHarness()
        var poison = harness.job(queue: "high", key: "poison")
        poison.recoveries = 4
        try await harness.store.enqueue([poison, harness.job(queue: "high")])
        try await harness.run { _ in
            try await harness.waitFor("high", done: 1, dead: 1)
        }
        let letter = try #require(try await harness.store.deadLetters(queue: "high").first?.envelope)
        #expect(letter.key == "poison")
        #expect(letter.lastError?.contains("recovered 4 times from dead workers") == true)
        try await harness.cleanup()
    }

    @Test func aDependencyOutageDoesNotBurnAttempts() async throws {
        let harness = try WorkerHarness(#"{"queues": {"medium": {"workers": 1, "retries": 0}}, "backoff": {"base": "50ms"}, "workers": {"schedulerInterval": "10ms"}}"#)
        let calls = Mutex(0)
        var registry = try HandlerRegistry.builtIn(harness.configuration)
        registry.register(type: "erp", handler: ClosureHandler { _ in
            let call = calls.withLock { $0 += 1; return $0 }
            if call <= 3 { throw JobFailure.dependencyUnavailable("database restarting") }
        }, timeout: .seconds(5))
        let job = JobEnvelope(type: "erp", queue: "medium", maxAttempts: 1)
        try await harness.store.enqueue([job])
        try await harness.run(registry: registry) { _ in
            try await harness.waitFor("medium", done: 1)
        }
        let medium = try await harness.queue("medium")
        #expect(medium.dead == 0 && medium.retried == 0)
        #expect(calls.withLock { $0 } == 4)
        try await harness.cleanup()
    }

    @Test func aRedisRestartLosesNoJobAndBurnsNoRetry() async throws {
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 2, "retries": 0}}}"#)
        let jobs = (0..<400).map { harness.job(payload: #"{"sleep_ms": 5}"#, key: "r\($0)") }
        try await harness.store.enqueue(jobs)
        try await harness.run { _ in
            try await waitUntil("some jobs to finish") { harness.observer.settledCount >= 50 }
            // A real restart of the test Redis (SHUTDOWN writes the AOF; start reloads it).
            let services = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/services").path
            #expect(try await runToCompletion(services, ["restart-redis"]) == 0)
            try await harness.waitFor("low", done: 400, timeout: .seconds(60))
        }
        let low = try await harness.queue("low")
        #expect(low.dead == 0 && low.retried == 0, "an outage is not a failed attempt")
        #expect(low.ready == 0 && low.active == 0 && low.delayed == 0)
        #expect(low.done == 400)
        try await harness.cleanup()
    }

    @Test func workersRecoverJobsOfAProcessThatDied() async throws {
        let harness = try WorkerHarness(#"{"workers": {"recoveryInterval": "100ms", "heartbeatInterval": "100ms", "processTimeout": "300ms"}}"#)
        let jobs = (0..<5).map { harness.job(queue: "low", key: "orphan-\($0)") }
        try await harness.store.enqueue(jobs)
        // A process that took jobs and died before its next heartbeat.
        let corpse = WorkerProcessRecord(id: "crashed-1", host: "elsewhere", pid: 9, queues: ["low"], workers: [1], startedAt: 0, heartbeatAt: 0)
        try await harness.store.heartbeat(corpse, ttl: .milliseconds(200))
        #expect(try await harness.store.fetch(queue: "low", holder: "crashed-1.0", max: 5, workers: 1).count == 5)
        let start = ContinuousClock.now
        let metrics = TestMetrics()
        try await harness.run(options: .init(queues: ["low"]), metrics: metrics) { _ in
            try await harness.waitFor("low", done: 5)
        }
        #expect(start.duration(to: .now) < .seconds(5))
        let low = try await harness.queue("low")
        #expect(low.recovered == 5 && low.active == 0)
        #expect(try metrics.expectCounter("wooqueue_jobs_total", [("queue", "low"), ("type", ""), ("outcome", "recovered")]).totalValue == 5)
        #expect(try metrics.expectCounter("wooqueue_jobs_total", [("queue", "low"), ("type", "noop"), ("outcome", "done")]).totalValue == 5)
        try await harness.cleanup()
    }

    @Test func aProcessSilentForLessThanTwoHeartbeatsKeepsItsJobs() async throws {
        // After a Redis outage every heartbeat has expired: a live process that beats again soon must not lose
        // its jobs to the first process that reconnects.
        let harness = try WorkerHarness(#"{"workers": {"recoveryInterval": "100ms", "heartbeatInterval": "500ms", "processTimeout": "1100ms"}}"#)
        let stalled = WorkerProcessRecord(id: "stalled-1", host: "elsewhere", pid: 9, queues: ["low"], workers: [1], startedAt: 0, heartbeatAt: 0)
        try await harness.store.enqueue([harness.job(queue: "low", key: "mine")])
        try await harness.store.heartbeat(stalled, ttl: .milliseconds(100))
        #expect(try await harness.store.fetch(queue: "low", holder: "stalled-1.0", max: 1, workers: 1).count == 1)
        try await harness.run(options: .init(queues: ["low"])) { _ in
            try await waitUntil("the stalled process's heartbeat to expire") { try await harness.store.silentProcesses().count == 1 }
            try await Task.sleep(for: .milliseconds(600))  // silent for less than the 1 s confirmation
            try await harness.store.heartbeat(stalled, ttl: .seconds(10))
            try await Task.sleep(for: .milliseconds(1200))  // well past the confirmation, now that it is alive
            #expect(try await harness.store.heldJobs(stalled) == 1, "the live process kept its job")
            #expect(try await harness.queue("low").recovered == 0)
        }
        try await harness.cleanup()
    }

    /// The options that trade detail for speed: `events: "failures"` logs no plain success, but still every
    /// failure; `jobStatus: "outcomes"` writes no `processing`, but still every outcome. The counters stay exact.
    @Test func lessDetailLeavesOutSuccessEventsAndProcessingMarksButKeepsFailuresAndOutcomes() async throws {
        let harness = try WorkerHarness(#"{"workers": {"events": "failures", "jobStatus": "outcomes"}, "queues": {"low": {"workers": 1, "retries": 0}}}"#)
        var registry = try HandlerRegistry.builtIn(harness.configuration)
        let running = Mutex<[String: String]>([:])
        let store = harness.store
        // What a job's status reads while it runs.
        registry.register(type: "looks", handler: ClosureHandler { job in
            let status = try await store.jobStatus(id: job.envelope.id, queues: ["low"])?.status ?? "none"
            running.withLock { $0[job.envelope.id] = status }
        }, timeout: .seconds(5))
        let good = (0..<50).map { harness.job(key: "good-\($0)") }
        let looking = JobEnvelope(type: "looks", queue: "low", maxAttempts: 1, key: "looks")
        let failing = harness.job(payload: #"{"fail": "permanent"}"#, key: "failing")
        try await harness.store.enqueue(good + [looking, failing])
        try await harness.run(registry: registry) { _ in
            try await harness.waitFor("low", done: 51, dead: 1)
        }
        let snapshot = try await harness.store.snapshot(queues: harness.configuration.queues, latestEvents: 100)
        #expect(snapshot.events.map(\.event) == ["dead"])
        #expect(snapshot.events.first?.id == failing.id)
        #expect(running.withLock { $0[looking.id] } == "pending")
        #expect(try await harness.store.jobStatus(id: good[0].id, queues: ["low"])?.status == "done")
        #expect(try await harness.store.jobStatus(id: failing.id, queues: ["low"])?.status == "failed")
        let low = try await harness.queue("low")
        #expect((low.done, low.dead) == (51, 1))
        try await harness.cleanup()
    }

    /// The defaults keep every detail: an event per outcome, and `processing` while a job runs.
    @Test func theDefaultsLogEveryOutcomeAndMarkRunningJobs() async throws {
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 1, "retries": 0}}}"#)
        var registry = try HandlerRegistry.builtIn(harness.configuration)
        let running = Mutex<String?>(nil)
        let store = harness.store
        registry.register(type: "looks", handler: ClosureHandler { job in
            let status = try await store.jobStatus(id: job.envelope.id, queues: ["low"])?.status
            running.withLock { $0 = status }
        }, timeout: .seconds(5))
        try await harness.store.enqueue((0..<30).map { harness.job(key: "good-\($0)") } + [JobEnvelope(type: "looks", queue: "low", maxAttempts: 1)])
        try await harness.run(registry: registry) { _ in
            try await harness.waitFor("low", done: 31)
        }
        let snapshot = try await harness.store.snapshot(queues: harness.configuration.queues, latestEvents: 100)
        #expect(snapshot.events.count == 31)
        #expect(snapshot.events.allSatisfy { $0.event == "done" })
        #expect(running.withLock { $0 } == "processing")
        try await harness.cleanup()
    }


    /// A busy worker takes its next batch in the same call that writes its last outcomes. A stop that comes during
    /// that call must not strand the batch in the worker's active list: every job is done or back in ready, none
    /// held, and the process leaves the registry. Five stops at different moments of a flood of quick jobs.
    @Test func stoppingABusyPoolLeavesNoJobHeld() async throws {
        for round in 1...5 {
            let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 3}}}"#)
            try await harness.store.enqueue((0..<30_000).map { harness.job(key: "flood-\(round)-\($0)") })
            try await harness.run { _ in
                try await waitUntil("the flood to be under way") { harness.observer.settledCount >= 2000 * round }
            }
            let low = try await harness.queue("low")
            #expect(low.active == 0, "round \(round): \(low.active) jobs left held")
            #expect(low.done + low.ready == 30_000, "round \(round): done \(low.done) + ready \(low.ready)")
            #expect(try await harness.store.registeredProcesses().isEmpty, "round \(round): the process left the registry")
            try await harness.cleanup()
        }
    }

}
