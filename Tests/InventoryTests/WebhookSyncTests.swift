import Foundation
import Logging
import QueueCore
import StoreSync
import Synchronization
import TestSupport
import Testing
import WooCommerceAPI

/// `webhooks sync` and `webhooks status` against a small real WooCommerce REST server that keeps webhooks as
/// WooCommerce does (v3 fields only; no secret or failure count in its answers; writes need Read/Write keys).
@Suite("Store webhooks", .serialized)
struct WebhookSyncTests {
    static let here = "https://hooks.example/webhooks/woocommerce"
    static let topics = ["order.created", "product.deleted", "product.updated"]

    private func withSync(manage: Bool = true, _ body: (FakeStore, WebhookSync, QueueStore) async throws -> Void) async throws {
        let store = try await FakeStore.start()
        defer { store.stop() }
        try await withFreshQueue("webhook-sync") { _, queue in
            let reader = try store.client()
            let manager = manage ? try store.client(key: FakeStore.manageKey, secret: FakeStore.manageSecret) : nil
            try await body(store, WebhookSync(reader: reader, manager: manager, store: queue, topics: Self.topics, deliveryURL: Self.here), queue)
        }
    }

    @Test func syncCreatesFixesReactivatesAndDeduplicatesThenASecondRunChangesNothing() async throws {
        try await withSync { store, sync, queue in
            let disabled = store.addWebhook(name: "Orders", status: "disabled", topic: "order.created", deliveryURL: Self.here)
            let second = store.addWebhook(name: "Orders again", status: "paused", topic: "order.created", deliveryURL: Self.here)
            let moved = store.addWebhook(name: "wooqueue: product.updated", topic: "product.updated",
                                         deliveryURL: "https://old-host.example/webhooks/woocommerce")
            let theirs = store.addWebhook(name: "3PL", topic: "order.created", deliveryURL: "https://3pl.example/orders")
            let before = store.state.withLock { $0.webhooks[theirs]! }
            // The intake refused signatures from the disabled one: its secret is set again.
            try await queue.recordIntakeActivity(lastDelivery: ["order.created": 1_700_000_000_000], refused: ["\(disabled)": 6])

            let status = try await sync.status()
            #expect(!status.topics.contains { $0.healthy }, "nothing is right yet: \(status.topics)")
            #expect(status.elsewhere == 1)
            #expect(status.topics.first { $0.topic == "order.created" }?.lastDelivery == 1_700_000_000_000)
            #expect(status.topics.first { $0.topic == "order.created" }?.webhooks.first { $0.id == disabled }?.refusedSignatures == 6)

            let plan = try await sync.plan(secret: "the-secret")
            let done = try await sync.apply(plan)
            #expect(done.count == 4, "\(done)")

            let webhooks = store.state.withLock { $0.webhooks }
            #expect(webhooks[disabled]?.status == "active" && webhooks[disabled]?.secret == "the-secret", "re-activated, secret set again")
            #expect(webhooks[second] == nil, "the duplicate is gone")
            #expect(webhooks[moved]?.deliveryURL == Self.here && webhooks[moved]?.status == "active", "pointed back here")
            let created = webhooks.values.filter { $0.topic == "product.deleted" }
            #expect(created.count == 1 && created[0].secret == "the-secret" && created[0].deliveryURL == Self.here
                    && created[0].name == "wooqueue: product.deleted")
            let after = webhooks[theirs]!
            #expect(after.name == before.name && after.deliveryURL == before.deliveryURL && after.status == before.status
                    && after.secret == before.secret && after.modified == before.modified, "a webhook delivering elsewhere is never touched")
            #expect(try await queue.intakeActivity().refused["\(disabled)"] == nil, "the refusals were for the old secret")
            #expect(try await sync.status().topics.allSatisfy(\.healthy))

            let writes = store.state.withLock { $0.writes.count }
            let again = try await sync.plan(secret: "the-secret")
            #expect(again.steps.isEmpty, "\(again.lines)")
            #expect(try await sync.apply(again).isEmpty)
            #expect(store.state.withLock { $0.writes.count } == writes, "a second run writes nothing")

            // --rotate-secret: every webhook of ours gets the new secret, the other one keeps its own.
            _ = try await sync.apply(try await sync.plan(secret: "the-new-secret", rotate: true))
            let rotated = store.state.withLock { $0.webhooks }
            #expect(rotated.values.filter { $0.id != theirs }.allSatisfy { $0.secret == "the-new-secret" } && rotated.count == 4)
            #expect(rotated[theirs]?.secret == before.secret)
        }
    }

    @Test func changingTheStoreNeedsTheManagingKeys() async throws {
        try await withSync(manage: false) { store, sync, _ in
            let plan = try await sync.plan(secret: "s")
            #expect(plan.steps.count == 3, "the everyday keys can read the webhooks")
            let error = await #expect(throws: WooCommerceError.self) { _ = try await sync.apply(plan) }
            #expect(error.map { "\($0)" }?.contains("woocommerce.manageKey") == true)
            #expect(store.state.withLock { $0.webhooks.isEmpty })
        }
        // Read-only keys given as managing keys: the store refuses the write, and the error says what stopped.
        let store = try await FakeStore.start()
        defer { store.stop() }
        try await withFreshQueue("webhook-sync") { _, queue in
            let readOnly = try store.client()
            let sync = WebhookSync(reader: readOnly, manager: readOnly, store: queue, topics: ["order.created"], deliveryURL: Self.here)
            let error = await #expect(throws: WebhookSyncError.self) { _ = try await sync.apply(try await sync.plan(secret: "s")) }
            #expect(error?.description.contains("does not have write permissions") == true, "\(error.map { "\($0)" } ?? "")")
            #expect(store.state.withLock { $0.webhooks.isEmpty })
        }
    }

    /// The commands themselves, as a user runs them against the store: the dry run changes nothing, the first run
    /// creates every routed topic's webhook with a generated secret printed once, the second says there is nothing
    /// to change, and `status` is content.
    @Test func theCommandsPlanCreateWithAGeneratedSecretAndThenFindNothingToDo() async throws {
        let store = try await FakeStore.start()
        defer { store.stop() }
        let prefix = TestEnvironment.uniquePrefix("webhooks-cli")
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix).json")
        try Data(#"""
            {"redis": {"url": "\#(TestEnvironment.redisURL)", "keyPrefix": "\#(prefix)"},
             "woocommerce": {"url": "\#(store.url)", "consumerKey": "\#(FakeStore.consumerKey)", "consumerSecret": "\#(FakeStore.consumerSecret)",
                             "manageKey": "\#(FakeStore.manageKey)", "manageSecret": "\#(FakeStore.manageSecret)"}}
            """#.utf8).write(to: config)
        defer { try? FileManager.default.removeItem(at: config) }
        func wooqueue(_ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["WOOQUEUE_BIN"]
                ?? TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/wooqueue").path)
            process.arguments = arguments + ["--config", config.path, "--url", Self.here]
            process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WOOQUEUE_") }
            let out = Pipe(), err = Pipe()
            (process.standardOutput, process.standardError) = (out, err)
            try process.run()
            async let stdout = readToEnd(out)
            async let stderr = readToEnd(err)
            let (o, e) = (await stdout, await stderr)
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }

        let plan = try await wooqueue(["webhooks", "sync", "--dry-run"])
        #expect(plan.status == 0 && plan.out.contains("would create a webhook for order.created"), "\(plan.out)\(plan.err)")
        #expect(plan.out.contains("would generate a webhook secret"))
        #expect(store.state.withLock { $0.webhooks.isEmpty }, "a dry run changes nothing")

        let run = try await wooqueue(["webhooks", "sync"])
        #expect(run.status == 0, "\(run.err)")
        let webhooks = store.state.withLock { Array($0.webhooks.values) }
        #expect(!webhooks.isEmpty && webhooks.allSatisfy { $0.status == "active" && $0.deliveryURL == Self.here })
        let secret = try #require(webhooks.first?.secret)
        #expect(secret.count >= 43 && webhooks.allSatisfy { $0.secret == secret }, "one strong secret for all")
        #expect(run.out.components(separatedBy: secret).count == 2, "printed once: \(run.out)")
        #expect(run.out.contains("webhooks.secrets"))

        let again = try await wooqueue(["webhooks", "sync"])
        #expect(again.status == 0 && again.out.hasPrefix("Nothing to change"), "\(again.out)")
        #expect(!again.out.contains(secret), "a secret is never printed again")
        let status = try await wooqueue(["webhooks", "status"])
        #expect(status.status == 0 && status.out.contains("ok      order.created") && !status.out.contains("PROBLEM"), "\(status.out)")
        _ = try? await TestEnvironment.store(try TestEnvironment.configuration(prefix: prefix)).deleteAllKeys()
    }
}
