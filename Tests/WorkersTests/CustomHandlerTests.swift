import AppConfiguration
import Foundation
import QueueCore
import Synchronization
import TestSupport
import Testing
import Workers

/// A handler kind registered in code, through real worker pools and a real Redis.
@Suite struct CustomHandlerTests {
    /// A new handler is one registration line: its type in the configuration runs through real worker pools.
    @Test func aCustomHandlerRegisteredInOneLineRunsJobs() async throws {
        let harness = try WorkerHarness(#"{"queues": {"low": {"workers": 2}}, "jobTypes": {"greet": {"queue": "low", "handler": "greeting", "word": "hello"}}}"#)
        let greeted = Mutex<[String]>([])
        var kinds = HandlerKinds.builtIn
        try kinds.register("greeting", settings: ["word"]) { spec in let word = try spec.settings.child("word").string(default: "hi"); return ClosureHandler { job in greeted.withLock { $0.append("\(word) \(job.envelope.key ?? "")") } } }
        let registry = try kinds.registry(for: harness.configuration.jobTypes.filter { !["inventory", "stock_sync"].contains($0.value.handler) })
        try await harness.store.enqueue((0..<5).map { harness.job("greet", queue: "low", key: "k\($0)") })
        try await harness.run(registry: registry) { _ in try await harness.waitFor("low", done: 5) }
        #expect(Set(greeted.withLock { $0 }) == Set((0..<5).map { "hello k\($0)" }))
        try await harness.cleanup()
    }
}
