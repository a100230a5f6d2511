import AppConfiguration
import QueueCore
import RedisClient
import Synchronization
import TestSupport
import Testing
@testable import Workers

@Suite(.serialized) struct BatchHandlerTests {
    /// Records the keys of each batch it gets; a job's payload says its result.
    final class RecordingBatchHandler: BatchJobHandler {
        let batchLimit = 50
        let batches = Mutex<[[String]]>([])

        func handle(batch: [JobContext]) async throws -> [JobResult] {
            batches.withLock { $0.append(batch.map { $0.envelope.key ?? "" }) }
            return batch.map { job in
                switch job.envelope.payloadText {
                case #"{"result":"skip"}"#: .skipped("nothing to do for \(job.envelope.key ?? "")")
                case #"{"result":"bad"}"#: .failed(.permanent("rejected \(job.envelope.key ?? "")"))
                default: .done
                }
            }
        }
    }

    /// Reads each job ahead (its key, marked), and records what every call got; each call takes a while, so the
    /// worker takes and reads the next batch meanwhile.
    final class ReadingAheadHandler: BatchJobHandler {
        let batchLimit = 50
        let callTime: Duration
        /// Per job handled: its key and what was read ahead of it.
        let handled = Mutex<[(key: String, readAhead: String?)]>([])

        init(callTime: Duration) { self.callTime = callTime }

        func readAhead(_ job: JobContext) -> (any Sendable)? { "read:" + (job.envelope.key ?? "") }

        func handle(batch: [JobContext]) async throws -> [JobResult] {
            try await Task.sleep(for: callTime)
            handled.withLock { $0 += batch.map { ($0.envelope.key ?? "", $0.readAhead as? String) } }
            return batch.map { _ in .done }
        }
    }

    /// Large jobs (over 4 KB, as catalogue pages are): released from the active list by their id.
    func page(_ key: String) -> JobEnvelope {
        JobEnvelope(type: "batchy", queue: "bulk", payload: Array(#"{"pad":"\#(String(repeating: "x", count: 5000))"}"#.utf8),
                    maxAttempts: 1, key: key)
    }

    @Test func theNextJobsAreTakenAndReadAheadWhileACallRunsAndEachRunsOnce() async throws {
        let harness = try WorkerHarness(#"{"queues": {"bulk": {"workers": 2, "retries": 0}}}"#)
        let handler = ReadingAheadHandler(callTime: .milliseconds(10))
        var registry = try HandlerRegistry.builtIn(harness.configuration)
        registry.register(type: "batchy", handler: handler, timeout: .seconds(5))
        let keys = (0..<400).map { "page-\($0)" }
        try await harness.store.enqueue(keys.map(page))
        try await harness.run(registry: registry) { _ in
            try await harness.waitFor("bulk", done: keys.count)
        }
        let handled = handler.handled.withLock { $0 }
        #expect(handled.map(\.key).sorted() == keys.sorted(), "each job ran once")
        // What was read ahead belongs to the job it came with; all but the first batches were read ahead.
        #expect(handled.allSatisfy { $0.readAhead == nil || $0.readAhead == "read:" + $0.key })
        #expect(handled.filter { $0.readAhead != nil }.count >= keys.count * 3 / 4, "\(handled.filter { $0.readAhead != nil }.count) read ahead")
        let bulk = try await harness.queue("bulk")
        #expect((bulk.active, bulk.ready, bulk.done) == (0, 0, keys.count))
        try await harness.cleanup()
    }

    /// Large entries that are not envelopes as wooqueue writes them (bytes that do not decode, one starting with `@`;
    /// an envelope laid out otherwise) are released by their exact bytes, not by an id they do not start with.
    @Test func largeEntriesOfAnyShapeLeaveTheActiveList() async throws {
        let harness = try WorkerHarness(#"{"queues": {"bulk": {"workers": 1, "retries": 0}}}"#)
        let pad = String(repeating: "x", count: 5000)
        let ready = harness.store.keys("bulk").ready
        _ = try await harness.store.connection.send("LPUSH", ready, "@" + pad)
        _ = try await harness.store.connection.send("LPUSH", ready, #"{ "id": "spaced-1", "type": "noop", "queue": "bulk", "payload": {"pad": "\#(pad)"} }"#)
        _ = try await harness.store.connection.send("LPUSH", ready, "not json " + pad)
        try await harness.run { _ in
            try await harness.waitFor("bulk", done: 1, dead: 2)
        }
        let bulk = try await harness.queue("bulk")
        #expect((bulk.active, bulk.ready, bulk.done, bulk.dead) == (0, 0, 1, 2))
        try await harness.cleanup()
    }

    @Test func stoppingWhileJobsAreTakenAheadLeavesNoJobHeldAndRunsNoneTwice() async throws {
        for round in 1...3 {
            let harness = try WorkerHarness(#"{"queues": {"bulk": {"workers": 2, "retries": 0}}}"#)
            let handler = ReadingAheadHandler(callTime: .milliseconds(5))
            var registry = try HandlerRegistry.builtIn(harness.configuration)
            registry.register(type: "batchy", handler: handler, timeout: .seconds(5))
            try await harness.store.enqueue((0..<3000).map { page("stop-\(round)-\($0)") })
            try await harness.run(registry: registry) { _ in
                try await waitUntil("the pool to be under way") { harness.observer.settledCount >= 150 * round }
            }
            let bulk = try await harness.queue("bulk")
            let handled = handler.handled.withLock { $0.map(\.key) }
            #expect(bulk.active == 0, "round \(round): \(bulk.active) jobs left held")
            #expect(bulk.done + bulk.ready == 3000, "round \(round): done \(bulk.done) + ready \(bulk.ready)")
            #expect(Set(handled).count == handled.count, "round \(round): a job ran twice")
            #expect(handled.count == bulk.done, "round \(round): \(handled.count) ran, \(bulk.done) done")
            try await harness.cleanup()
        }
    }

    @Test func consecutiveJobsOfABatchHandlerRunTogetherEachWithItsOwnOutcome() async throws {
        let harness = try WorkerHarness(#"{"queues": {"bulk": {"workers": 1, "retries": 0}}}"#)
        let handler = RecordingBatchHandler()
        var registry = try HandlerRegistry.builtIn(harness.configuration)
        registry.register(type: "batchy", handler: handler, timeout: .seconds(5))
        registry.register(type: "batchy.other", handler: handler, timeout: .seconds(5))
        func job(_ type: String, _ key: String, _ result: String = "ok") -> JobEnvelope {
            JobEnvelope(type: type, queue: "bulk", payload: Array(#"{"result":"\#(result)"}"#.utf8), maxAttempts: 1, key: key)
        }
        // 30 jobs of the handler (two types), a noop between them, then 5 more.
        var jobs = (0..<30).map { job($0 % 2 == 0 ? "batchy" : "batchy.other", "a\($0)") }
        jobs[7] = job("batchy", "a7", "skip")
        jobs[12] = job("batchy", "a12", "bad")
        jobs.append(JobEnvelope(type: "noop", queue: "bulk", maxAttempts: 1, key: "between"))
        jobs += (0..<5).map { job("batchy", "b\($0)") }
        try await harness.store.enqueue(jobs)
        try await harness.run(registry: registry) { _ in
            try await harness.waitFor("bulk", done: 35, dead: 1)
        }
        let batches = handler.batches.withLock { $0 }
        // In queue order, never across the noop, and more than one job per call.
        #expect(batches.flatMap { $0 } == jobs.compactMap(\.key).filter { $0 != "between" })
        #expect(!batches.contains { $0.contains("a29") && $0.contains("b0") })
        #expect(batches.contains { $0.count > 1 })
        let dead = try await harness.store.deadLetters(queue: "bulk").compactMap(\.envelope)
        #expect(dead.map(\.key) == ["a12"])
        #expect(dead.first?.lastError == "rejected a12")
        let events = try await harness.store.snapshot(queues: harness.configuration.queues, latestEvents: 50).events
        let skipped = try #require(events.first { $0.key == "a7" })
        #expect(skipped.event == "skipped")
        #expect(skipped.status == "done")
        #expect(skipped.error == "nothing to do for a7")
        try await harness.cleanup()
    }
}
