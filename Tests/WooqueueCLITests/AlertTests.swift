import Foundation
import HTTPTypes
import Parsing
import QueueCore
import RedisClient
import TestSupport
import Testing

/// Alerts from two real `serve` processes sharing one Redis, to a real HTTP receiver standing in for Slack.
@Suite struct AlertTests {
    @Test func twoServeProcessesAnnounceEachChangeOnce() async throws {
        let receiver = try await TestHTTPServer.start { _ in (.ok, "ok") }
        defer { receiver.stop() }
        let prefix = TestEnvironment.uniquePrefix("alerts")
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent(prefix).path
        // One key prefix, a spool each (a spool is locked by its process).
        let runners = try (0..<2).map { index in
            try CommandRunner(#"""
                {"http": {"port": 0},
                 "webhooks": {"secrets": ["s3cret"], "spoolDirectory": "\#(spool)-\#(index)"},
                 "alerts": {"webhookURL": "\#(receiver.url)", "checkInterval": "100ms", "interval": "1h",
                            "deadLetterThreshold": 2, "pendingThreshold": 100}}
                """#, prefix: prefix)
        }
        let store = try runners[0].store
        let servers = try runners.map { try $0.start(["serve", "--log-level", "warning"]).0 }
        defer { for server in servers where server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        try await waitUntil("both serve processes to run", timeout: .seconds(30)) {
            try await store.registeredProcesses().filter(\.alive).count == 2
        }
        func texts() -> [String] {
            receiver.requests.compactMap { request in
                guard case .string(let text)? = try? JSONValue.parse(Array(request.body.utf8))["text"] else { return nil }
                return text
            }
        }
        func count(_ prefix: String, _ about: String) -> Int { texts().filter { $0.hasPrefix(prefix) && $0.contains(about) }.count }
        let deadLow = "queue low has", pendingMedium = "queue medium has"
        func deadLetters() -> [JobEnvelope] { (0..<3).map { _ in JobEnvelope(type: "noop", queue: "low", maxAttempts: 1) } }
        func delayed() -> [JobEnvelope] {
            (0..<101).map { _ in JobEnvelope(type: "noop", queue: "medium", maxAttempts: 1, runAt: WallClock.nowMillis() + 3_600_000) }
        }

        // 1. Three dead letters on low (threshold 2): announced once.
        try await store.deadLetter(deadLetters())
        try await waitUntil("the dead-letter alert", timeout: .seconds(10)) { count("wooqueue alert:", deadLow) >= 1 }
        // 2. While it holds, another condition starts. Its announcement proves later checks ran (each check
        //    evaluates dead:low before pending:medium), and none repeated the first.
        _ = try await store.enqueue(delayed())
        try await waitUntil("the pending alert", timeout: .seconds(10)) { count("wooqueue alert:", pendingMedium) >= 1 }
        #expect(count("wooqueue alert:", deadLow) == 1, "the dead-letter alert was sent again while it held: \(texts())")
        // 3. The dead letters are dealt with: resolved, once.
        try await store.connection.send("DEL", store.keys("low").dead)
        try await waitUntil("the dead-letter alert to resolve", timeout: .seconds(10)) { count("wooqueue resolved:", deadLow) >= 1 }
        // 4. It starts again within the interval (1 h): not announced. Resolving the pending condition proves the
        //    checks after it ran.
        try await store.deadLetter(deadLetters())
        try await store.connection.send("DEL", store.keys("medium").delayed)
        try await waitUntil("the pending alert to resolve", timeout: .seconds(10)) { count("wooqueue resolved:", pendingMedium) >= 1 }
        #expect(count("wooqueue alert:", deadLow) == 1, "a second start within the interval was announced: \(texts())")
        #expect(count("wooqueue resolved:", deadLow) == 1)
        #expect(count("wooqueue alert:", pendingMedium) == 1)
        #expect(count("wooqueue resolved:", pendingMedium) == 1)
        #expect(texts().count == 4, "exactly the four changes, each once, from two processes: \(texts())")
        #expect(try await store.announcementBoard("alerts").holding() == ["dead:low"], "it still holds, just not announced again")
        #expect(receiver.requests.allSatisfy { $0.headers["content-type"] == "application/json" })

        for server in servers { kill(server.processIdentifier, SIGTERM) }
        try await waitUntil("both serve processes to stop", timeout: .seconds(30)) { servers.allSatisfy { !$0.isRunning } }
        for index in 0..<2 { try? FileManager.default.removeItem(atPath: "\(spool)-\(index)") }
        for runner in runners { try await runner.cleanup() }
    }
}
