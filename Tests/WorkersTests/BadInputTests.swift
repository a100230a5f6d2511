import AppConfiguration
import QueueCore
import RedisClient
import TestSupport
import Testing
@testable import Workers

@Suite(.serialized) struct BadInputTests {
    struct Oops: Error, CustomStringConvertible { var description: String { "the ERP client crashed: index out of range" } }

    @Test func badJobsEndInTheDeadLetterListWithAReasonAndOthersContinue() async throws {
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 1, "retries": 0}}}"#)
        var registry = try HandlerRegistry.builtIn(harness.configuration)
        registry.register(type: "throws", handler: ClosureHandler { _ in throw Oops() }, timeout: .seconds(5))
        let k = harness.store.keys("low")
        try await harness.store.connection.send("LPUSH", k.ready, "{this is not an envelope")
        try await harness.store.enqueue([
            harness.job(key: "good-1"),
            JobEnvelope(type: "nosuch", queue: "low", maxAttempts: 1, key: "unknown-type"),
            harness.job(payload: #"{"sleep_ms": "soon"}"#, key: "bad-payload"),
            harness.job(key: "good-2"),
            JobEnvelope(type: "throws", queue: "low", maxAttempts: 1, key: "throws"),
            harness.job(payload: #"{"fail": "permanent"}"#, key: "permanent"),
            harness.job(key: "good-3"),
        ])
        try await harness.run(registry: registry) { _ in
            try await harness.waitFor("low", done: 3, dead: 5)
        }
        let reasons = Dictionary(uniqueKeysWithValues: try await harness.store.deadLetters(queue: "low").map {
            ($0.envelope?.key ?? $0.envelope?.type ?? "?", $0.envelope?.lastError ?? "")
        })
        #expect(reasons["invalid"]?.contains("envelope does not decode: envelope is not valid JSON") == true)
        #expect(reasons["unknown-type"]?.contains(#"unknown job type "nosuch""#) == true)
        #expect(reasons["bad-payload"]?.contains("sleep_ms must be a whole number") == true)
        #expect(reasons["throws"]?.contains("the ERP client crashed: index out of range") == true)
        #expect(reasons["permanent"]?.contains("noop asked to fail (permanent)") == true)
        let invalid = try #require(try await harness.store.deadLetters(queue: "low").first { $0.envelope?.type == "invalid" }?.envelope)
        #expect(invalid.payloadText.contains("{this is not an envelope"), "the raw bytes are kept for review")
        try await harness.cleanup()
    }

    /// `{"sleep_ms": 1e19}` trapped in `Int64(Double)`, and a payload string `"\ud800\u0041"` in the JSON
    /// scanner: each crashed the process, and the job came back to crash it again until it was dead-lettered.
    @Test func payloadsThatTrappedNowEndAsOutcomes() async throws {
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 1, "retries": 0}}}"#)
        try await harness.store.enqueue([
            harness.job(payload: #"{"sleep_ms": 1e19}"#, key: "huge-sleep"),
            harness.job(payload: #"{"sleep_ms": -1e19}"#, key: "negative-sleep"),
            harness.job(payload: #"{"sleep_ms": 1e999}"#, key: "infinite-sleep"),
            harness.job(payload: #"{"note": "\ud800\u0041", "fail": "permanent"}"#, key: "surrogate"),
            harness.job(key: "after"),
        ])
        try await harness.run(registry: try HandlerRegistry.builtIn(harness.configuration)) { _ in
            try await harness.waitFor("low", done: 1, dead: 4)
        }
        let reasons = Dictionary(uniqueKeysWithValues: try await harness.store.deadLetters(queue: "low").map {
            ($0.envelope?.key ?? "?", $0.envelope?.lastError ?? "")
        })
        for key in ["huge-sleep", "negative-sleep", "infinite-sleep"] {
            #expect(reasons[key]?.contains("sleep_ms must be a whole number from 0 to 86400000") == true, "\(key): \(reasons[key] ?? "none")")
        }
        #expect(reasons["surrogate"]?.contains("noop asked to fail (permanent)") == true, "the payload was read, its string repaired")
        #expect(try await harness.store.snapshot(queues: harness.configuration.queues, latestEvents: 0).queues.first { $0.name == "low" }?.recovered == 0,
                "no job came back from a crashed worker")
        try await harness.cleanup()
    }
}
