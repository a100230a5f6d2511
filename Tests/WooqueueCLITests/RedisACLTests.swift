import AppConfiguration
import Foundation
import QueueCore
import RedisClient
import TestSupport
import Testing

/// wooqueue as a Redis ACL user: with exactly the README's rule it runs everything; without one command, or with
/// a wrong password, it stops at start and says why.
@Suite(.serialized) struct RedisACLTests {
    /// The rule as a user copies it from the README (the `ACL SETUSER` line between the `redis acl rule` markers),
    /// for the key prefix `prefix`. Read from the README, not from the code, so the documented rule is what is tested.
    static func readmeRule(prefix: String) throws -> [String] {
        let readme = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "<!-- redis acl rule: begin -->"),
              let end = readme.range(of: "<!-- redis acl rule: end -->", range: start.upperBound..<readme.endIndex),
              let line = readme[start.upperBound..<end.lowerBound].split(separator: "\n").first(where: { $0.hasPrefix("ACL SETUSER") }) else {
            throw TestFailure("the README has no ACL SETUSER line between its redis acl rule markers")
        }
        let words = line.split(separator: " ").map(String.init)
        #expect(Array(words.prefix(5)) == ["ACL", "SETUSER", "wooqueue", "on", ">PASSWORD"])
        return words.dropFirst(5).map { $0 == "~wq:*" ? "~\(prefix):*" : $0 }
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Creates a Redis user with `rule`, runs `body` with its URL, and deletes the user whatever happens.
    static func withUser(rule: [String], _ body: (_ url: String, _ password: String) async throws -> Void) async throws {
        let admin = RedisConnection(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), label: "acl-admin")
        let name = "wqtest-\(String(UInt64.random(in: 0..<UInt64.max), radix: 36))"
        let password = String(UInt64.random(in: 0..<UInt64.max), radix: 36) + String(UInt64.random(in: 0..<UInt64.max), radix: 36)
        try await admin.send(RedisCommand("ACL", arguments: ["SETUSER", name, "reset", "on", ">\(password)"] + rule))
        let url = TestEnvironment.redisURL.replacingOccurrences(of: "redis://", with: "redis://\(name):\(password)@")
        do {
            try await body(url, password)
        } catch {
            _ = try? await admin.send("ACL", "DELUSER", name)
            throw error
        }
        try await admin.send("ACL", "DELUSER", name)
    }

    /// `serve` (intake, workers, admin listener), `enqueue`, `dlq retry` and `status`, all as the README's user.
    @Test func aUserWithExactlyTheREADMERuleRunsEverything() async throws {
        let prefix = TestEnvironment.uniquePrefix("acl")
        try await Self.withUser(rule: try Self.readmeRule(prefix: prefix)) { url, password in
            let (port, adminPort) = (try freePort(), try freePort())
            let cli = try CommandRunner(#"""
                {"http": {"port": \#(port)}, "webhooks": {"secrets": ["acl-s3cret"]}, "admin": {"port": \#(adminPort), "token": "acl-admin"},
                 "database": {"url": "\#(TestEnvironment.databaseURL)"},
                 "queues": {"low": {"workers": 2, "retries": 0}},
                 "workers": {"heartbeatInterval": "200ms", "processTimeout": "1s", "recoveryInterval": "200ms"},
                 "jobTypes": {"noop": {"queue": "low"}},
                 "routes": {"product.updated": [{"type": "noop"}]}}
                """#, prefix: prefix, redisURL: url)
            let observer = try TestEnvironment.store(TestEnvironment.configuration(prefix: prefix))
            // A job over 4 KB too: taken with LMOVE and released by its id (LINDEX, LTRIM).
            let large = #"{"pad": ""# + String(repeating: "x", count: 5000) + #""}"#
            for (arguments, what) in [(["enqueue", "--type", "noop", "--count", "20"], "20 jobs"),
                                      (["enqueue", "--type", "noop", "--key", "large", "--payload", large], "a large job"),
                                      (["enqueue", "--type", "noop", "--key", "doomed", "--payload", #"{"fail": "permanent"}"#], "a failing job")] {
                let enqueued = try await cli.run(arguments)
                #expect(enqueued.status == 0, "enqueue \(what): \(enqueued.stderr)")
            }
            let (server, _, serverErr) = try cli.start(["serve", "--log-level", "warning"])
            async let serverLog = readToEnd(serverErr)
            defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
            try await waitUntil("serve to answer /readyz", timeout: .seconds(30)) {
                try await runToCompletion("/usr/bin/curl", ["-fs", "-o", "/dev/null", "http://127.0.0.1:\(port)/readyz"]) == 0
            }
            let body = Array(#"{"id": 7, "sku": "ACL-7", "date_modified_gmt": "2026-11-30T10:00:00"}"#.utf8)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix).json")
            try Data(body).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let delivery = try await curl([
                "http://127.0.0.1:\(port)/webhooks/woocommerce", "-H", "X-WC-Webhook-Topic: product.updated",
                "-H", "X-WC-Webhook-Signature: \(try OpenSSL.hmacSHA256Base64(body, key: "acl-s3cret"))", "--data-binary", "@\(file.path)",
            ])
            #expect(delivery.status == 200, "\(delivery.body)")

            func low() async throws -> QueueSnapshot.Queue {
                try #require(try await observer.snapshot(queues: cli.configuration.queues, latestEvents: 0).queues.first { $0.name == "low" })
            }
            try await waitUntil("the 22 jobs to be done and the failing one dead", timeout: .seconds(30)) {
                let queue = try await low()
                return queue.done == 22 && queue.dead == 1
            }
            let retried = try await cli.run(["dlq", "retry", "--queue", "low", "--all"])
            #expect(retried.status == 0, "dlq retry: \(retried.stderr)")
            try await waitUntil("the retried job to be dead again", timeout: .seconds(30)) {
                let queue = try await low()
                return queue.dead == 1 && queue.ready == 0 && queue.active == 0 && queue.delayed == 0
            }
            let status = try await cli.run(["status", "--json"])
            #expect(status.status == 0, "status: \(status.stderr)")
            for path in ["/admin", "/admin/dlq?queue=low", "/metrics"] {
                let page = try await curl(["-H", "Authorization: Bearer acl-admin", "http://127.0.0.1:\(adminPort)\(path)"])
                #expect(page.status == 200, "\(path): \(page.status)")
            }
            kill(server.processIdentifier, SIGTERM)
            try await waitUntil("serve to stop on SIGTERM", timeout: .seconds(30)) { !server.isRunning }
            #expect(server.terminationStatus == 0)
            let log = String(decoding: await serverLog, as: UTF8.self)
            #expect(!log.contains("NOPERM"), "every background task ran within the rule: \(log)")
            #expect(!log.contains(password), "the password is never logged")
            try await observer.deleteAllKeys()
            try? FileManager.default.removeItem(atPath: cli.configPath)
        }
    }

    /// A rule without one command, or without the key prefix, stops `work` at start with a message naming it.
    @Test func aUserWithoutOnePermissionIsRefusedAtStartByName() async throws {
        let prefix = TestEnvironment.uniquePrefix("acl-short")
        let full = try Self.readmeRule(prefix: prefix)
        for (rule, expected) in [(full.filter { $0 != "+lmpop" }, "may not run LMPOP"),
                                 (full.filter { $0 != "+lmove" }, "may not run LMOVE"),
                                 (full.filter { $0 != "+script|load" }, "may not run SCRIPT LOAD"),
                                 (full.map { $0 == "~\(prefix):*" ? "~elsewhere:*" : $0 }, "may not use the keys \(prefix):*")] {
            try await Self.withUser(rule: rule) { url, password in
                let cli = try CommandRunner("{}", prefix: prefix, redisURL: url)
                let work = try await cli.run(["work"], timeout: .seconds(30))
                #expect(work.status != 0, "work started without a permission it needs")
                #expect(work.stderr.contains(expected), "\(expected): \(work.stderr)")
                #expect(work.stderr.contains("README"), "the message points at the rule")
                #expect(!work.stderr.contains(password))
                try? FileManager.default.removeItem(atPath: cli.configPath)
            }
        }
    }

    /// A wrong password is a setting to fix: `work` stops at once (it does not wait for Redis as for an outage).
    @Test func aWrongPasswordStopsTheStartAtOnce() async throws {
        let prefix = TestEnvironment.uniquePrefix("acl-wrong")
        try await Self.withUser(rule: try Self.readmeRule(prefix: prefix)) { url, password in
            let cli = try CommandRunner("{}", prefix: prefix, redisURL: url.replacingOccurrences(of: ":\(password)@", with: ":not-\(password)@"))
            let work = try await cli.run(["work"], timeout: .seconds(20))
            #expect(work.status != 0)
            #expect(work.stderr.contains("refused the user and password"), "\(work.stderr)")
            #expect(!work.stderr.contains(password))
            try? FileManager.default.removeItem(atPath: cli.configPath)
        }
    }
}
