import Foundation
import Parsing
import QueueCore
import TestSupport
import Testing

@Suite(.serialized) struct CommandLineTests {
    @Test func aBadConfigurationStopsWithTheFieldNamed() async throws {
        let cli = try CommandRunner("{}")
        try Data(#"{"queues": {"high": {"workers": 0}}}"#.utf8).write(to: URL(fileURLWithPath: cli.configPath))
        let result = try await cli.run(["status"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("queues.high.workers must be ≥ 1, got 0"), "stderr: \(result.stderr)")
        try? FileManager.default.removeItem(atPath: cli.configPath)
    }

    /// A help text whose source lost a line continuation printed a run of spaces in mid-sentence
    /// (`enqueue --help`: "would be             routed"). No command's overview or discussion has one.
    @Test func everyHelpTextReadsAsProse() async throws {
        let cli = try CommandRunner("{}")
        for command in ["serve", "work", "enqueue", "status", "dlq", "drain", "migrate", "bootstrap", "reconcile", "bench",
                        "webhooks status", "webhooks sync"] {
            let help = try await cli.run(command.split(separator: " ").map(String.init) + ["--help"])
            #expect(help.status == 0, "\(command) --help")
            let prose = help.stdout.components(separatedBy: "USAGE:").first ?? ""
            #expect(prose.firstMatch(of: /\S {3,}\S/) == nil, "\(command) --help: \(prose)")
        }
        try await cli.cleanup()
    }

    @Test func webhookCommandsSayWhatTheyNeed() async throws {
        let cli = try CommandRunner("{}")
        let noURL = try await cli.run(["webhooks", "status"])
        #expect(noURL.status != 0 && noURL.stderr.contains("say where WooCommerce delivers"), "\(noURL.stderr)")
        let badURL = try await cli.run(["webhooks", "sync", "--url", "hooks.example/in"])
        #expect(badURL.status != 0 && badURL.stderr.contains("--url must be the http:// or https:// address"), "\(badURL.stderr)")
        let noStore = try await cli.run(["webhooks", "sync", "--url", "https://hooks.example/webhooks/woocommerce"])
        #expect(noStore.status != 0 && noStore.stderr.contains("set woocommerce.url"), "\(noStore.stderr)")
        let rotation = try CommandRunner(#"{"webhooks": {"secrets": ["only-one"]}, "woocommerce": {"url": "https://shop.example", "consumerKey": "ck", "consumerSecret": "cs"}}"#)
        let single = try await rotation.run(["webhooks", "sync", "--url", "https://hooks.example/in", "--rotate-secret"])
        #expect(single.status != 0 && single.stderr.contains("put the new secret first"), "\(single.stderr)")
        try await cli.cleanup()
        try await rotation.cleanup()
    }

    @Test func badInputOnTheCommandLineIsRefusedClearly() async throws {
        let cli = try CommandRunner("{}")
        let badJSON = try await cli.run(["enqueue", "--type", "noop", "--payload", "{nope"])
        #expect(badJSON.status != 0 && badJSON.stderr.contains("--payload is not valid JSON"))
        let unknown = try await cli.run(["enqueue", "--type", "nosuch"])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown job type \"nosuch\""))
        let delay = try await cli.run(["enqueue", "--type", "noop", "--delay", "soon"])
        #expect(delay.status != 0 && delay.stderr.contains("--delay must be a duration"))
        let purge = try await cli.run(["dlq", "purge"])
        #expect(purge.status != 0 && purge.stderr.contains("needs --id ID, or --all"))
        try await cli.cleanup()
    }

    @Test func enqueueDrainStatusAndDeadLetterReview() async throws {
        let cli = try CommandRunner(#"{"queues": {"high": {"workers": 2, "retries": 1}, "low": {"workers": 1}}, "backoff": {"base": "100ms"}, "workers": {"schedulerInterval": "20ms"}}"#)
        #expect(try await cli.run(["enqueue", "--type", "noop", "--queue", "high", "--count", "25", "--key", "batch"]).status == 0)
        let failing = try await cli.run(["enqueue", "--type", "noop", "--queue", "high", "--key", "sku-42", "--payload", #"{"fail": "transient"}"#])
        #expect(failing.status == 0)
        let id = try #require(failing.stdout.split(separator: " ").dropFirst().first.map(String.init))
        #expect(try await cli.run(["enqueue", "--type", "noop", "--delay", "1h", "--key", "later"]).status == 0)

        let drain = try await cli.run(["drain"])
        #expect(drain.status == 0, "stderr: \(drain.stderr)")
        #expect(drain.stdout.contains("before:") && drain.stdout.contains("after:"))

        let status = try JSONValue.parse(Array(try await cli.run(["status", "--json"]).stdout.utf8))
        guard case .array(let queues) = status["queues"] else { Issue.record("no queues in status --json"); return }
        let high = try #require(queues.first { $0["name"] == .string("high") })
        let low = try #require(queues.first { $0["name"] == .string("low") })
        #expect(high["done"] == .number(25) && high["dead"] == .number(1) && high["retried"] == .number(1))
        #expect(low["done"] == .number(1), "drain released the delayed job at once")
        #expect(high["ready"] == .number(0) && high["active"] == .number(0) && high["delayed"] == .number(0))
        guard case .array(let events) = status["events"] else { Issue.record("no events"); return }
        #expect(events.count == 20)
        #expect(events.contains { $0["key"] == .string("sku-42") && $0["event"] == .string("dead") })

        #expect(try await cli.run(["status", "--id", id]).stdout.contains("failed"))
        let list = try await cli.run(["dlq", "list"])
        #expect(list.stdout.contains(id) && list.stdout.contains("sku-42") && list.stdout.contains("noop asked to fail (transient)"))
        let show = try await cli.run(["dlq", "show", "--id", id])
        #expect(show.stdout.contains("attempts:      2 of 2") && show.stdout.contains(#"payload:       {"fail": "transient"}"#))
        let retry = try await cli.run(["dlq", "retry", "--all", "--queue", "high"])
        #expect(retry.stdout.contains("1 sent back to their queue"))
        #expect(try await cli.run(["status", "--id", id]).stdout.contains("pending"))
        let purge = try await cli.run(["dlq", "purge", "--all"])
        #expect(purge.stdout.contains("deleted 0"), "the retried job left the dead-letter list")
        try await cli.cleanup()
    }
}

@Suite(.serialized) struct RoutingCommandTests {
    @Test func enqueueByTopicRoutesLikeAWebhookDelivery() async throws {
        let cli = try CommandRunner("{}")
        let order = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Fixtures/woocommerce/order-created.json").path
        // The default routes (no routes in this config): an order only asks for its stock to be re-read.
        let routed = try await cli.run(["enqueue", "--topic", "order.created", "--payload", "@\(order)"])
        #expect(routed.status == 0, "stderr: \(routed.stderr)")
        #expect(routed.stdout.contains("routed order.created into 1 job(s): 1 stock_sync on bulk"))
        let unrouted = try await cli.run(["enqueue", "--topic", "coupon.created", "--payload", "{}"])
        #expect(unrouted.status != 0 && unrouted.stderr.contains(#"no route for topic "coupon.created""#))
        let both = try await cli.run(["enqueue", "--topic", "order.created", "--type", "noop"])
        #expect(both.status != 0 && both.stderr.contains("either --type or --topic"))
        try await cli.cleanup()
    }
}
