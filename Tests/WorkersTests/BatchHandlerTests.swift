import AppConfiguration
import QueueCore
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
