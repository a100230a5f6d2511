import AppConfiguration
import ArgumentParser
import CommandSupport
import Crypto
import Dispatcher
import Foundation
import QueueCore
import StoreSync
import WooCommerceAPI

/// `wooqueue webhooks status|sync`: the store's webhooks against the routes.
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Show the store's webhooks against the routes, or make them match.",
        subcommands: [WebhooksStatus.self, WebhooksSync.self])
}

/// What both subcommands need: the configuration, the delivery URL, and the sync over the store's REST API.
struct WebhookOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("The address WooCommerce delivers to (default: webhooks.deliveryURL).",
                                            valueName: "https://public.example/webhooks/woocommerce"))
    var url: String?

    func make(label: String) throws -> (WooqueueConfiguration, WebhookSync) {
        let configuration = try global.load()
        let deliveryURL = url ?? configuration.webhooks.deliveryURL
        guard !deliveryURL.isEmpty else {
            throw ValidationError("""
                say where WooCommerce delivers: --url https://public.example\(configuration.http.webhookPath), or \
                webhooks.deliveryURL in config.json (the address of `serve` as the store reaches it)
                """)
        }
        if let problem = WebhookSettings.problem(deliveryURL: deliveryURL) { throw ValidationError("--url \(problem)") }
        let logger = global.logger(label)
        let settings = configuration.woocommerce
        let reader = try configuration.makeStoreClient(settings, logger: logger)
        let manager = settings.manageKey.isEmpty ? nil : try configuration.makeStoreClient(try settings.managing(), logger: logger)
        let sync = WebhookSync(reader: reader, manager: manager, store: try configuration.makeStore(label: label),
                               topics: Array(configuration.routes.keys), deliveryURL: deliveryURL)
        return (configuration, sync)
    }
}

struct WebhooksStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Per routed topic: the store's webhook for it, and what the intake last received from it.",
        discussion: """
            Reads /wc/v3/webhooks (which shows no secret and no failure count) and the intake's own record: the \
            last delivery received per topic, and signatures refused per X-WC-Webhook-ID. Exits 1 when a routed \
            topic has no single active webhook delivering to --url.
            """)

    @OptionGroup var options: WebhookOptions

    @Flag(name: .long, help: "Print the status as one JSON object.")
    var json = false

    func run() async throws {
        let (_, sync) = try options.make(label: "webhooks")
        let status = try await sync.status()
        if json {
            print(try StatusPrinter.json(status))
        } else {
            let now = WallClock.nowMillis()
            for topic in status.topics {
                let last = topic.lastDelivery.map { "last delivery \(Self.age(now - $0)) ago" } ?? "no delivery recorded"
                let hooks = topic.webhooks.isEmpty ? "no webhook" : topic.webhooks.map(Self.describe).joined(separator: ", ")
                print("\(topic.healthy ? "ok     " : "PROBLEM") \(topic.topic): \(hooks); \(last)")
            }
            for webhook in status.unrouted { print("note    webhook \(Self.describe(webhook)) delivers here on a topic no route takes") }
            for (id, count) in status.refusedFromUnknown.sorted(by: { $0.key < $1.key }) {
                print("note    \(count) signature(s) refused from webhook id \(id), which the store does not list")
            }
            print("\(status.elsewhere) other webhook(s) deliver elsewhere (left alone)")
            if !status.topics.allSatisfy(\.healthy) { print("Run `wooqueue webhooks sync` to fix the problems.") }
        }
        if !status.topics.allSatisfy(\.healthy) { throw ExitCode(1) }
    }

    static func describe(_ webhook: WebhookSync.WebhookState) -> String {
        var text = "\(webhook.id) \(webhook.status)"
        if !webhook.deliversHere { text += ", delivers elsewhere" }
        if webhook.refusedSignatures > 0 { text += ", \(webhook.refusedSignatures) signature(s) refused" }
        return text
    }

    static func age(_ millis: Int64) -> String {
        let seconds = max(millis / 1000, 0)
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7200 { return "\(seconds / 60) min" }
        return "\(seconds / 3600) h"
    }
}

struct WebhooksSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Make the store's webhooks match the routes: one active webhook per routed topic, delivering to --url.",
        discussion: """
            Creates what is missing (with the first secret of webhooks.secrets), fixes a wrong delivery URL or topic, \
            re-activates a disabled or paused webhook, sets the secret again where the intake refused its \
            signatures, and deletes a second webhook of ours for a topic, or one on a topic no route takes. \
            Webhooks that deliver elsewhere are never touched. A second run changes nothing. Needs \
            woocommerce.manageKey and manageSecret: REST keys with Read/Write access of a user who can manage \
            WooCommerce.
            """)

    @OptionGroup var options: WebhookOptions

    @Flag(name: .long, help: "Print the plan and change nothing.")
    var dryRun = false

    @Flag(name: .long, help: ArgumentHelp(
        "Give every webhook of ours the first secret of webhooks.secrets.",
        discussion: """
            To rotate: put the new secret first in webhooks.secrets, keep the old one after it, restart serve (it \
            accepts both), run `webhooks sync --rotate-secret`, then remove the old secret and restart serve again.
            """))
    var rotateSecret = false

    func run() async throws {
        let (configuration, sync) = try options.make(label: "webhooks")
        var secret = configuration.webhooks.secrets.first
        if rotateSecret, configuration.webhooks.secrets.count < 2 {
            throw ValidationError("""
                --rotate-secret gives every webhook the first secret of webhooks.secrets, while serve still accepts the \
                old one: put the new secret first and keep the old one after it (and restart serve) before you run it
                """)
        }
        let generated = secret == nil
        if generated { secret = Self.newSecret() }
        let plan = try await sync.plan(secret: secret ?? "", rotate: rotateSecret)
        guard !plan.steps.isEmpty else {
            print("Nothing to change: every routed topic has one active webhook delivering to \(WebhookPlan.redacted(sync.deliveryURL)).")
            return
        }
        let creates = plan.steps.contains { if case .create = $0 { return true }; return false }
        if dryRun {
            for line in plan.lines { print("would \(line)") }
            if generated && creates { print("would generate a webhook secret (webhooks.secrets is empty) and print it once") }
            return
        }
        let progress = ProgressLines()
        let done = try await sync.apply(plan) { progress.say($0) }
        for line in done { print(line) }
        if rotateSecret {
            print("Every webhook of ours signs with the new secret now: remove the old one from webhooks.secrets and restart serve.")
        }
        if generated && creates, let secret {
            print("""

                Generated a webhook secret, shown only now. The new webhooks sign with it; until `serve` knows it, \
                their deliveries are refused (and WooCommerce disables a webhook once more than 5 deliveries in a row failed). Put it in \
                webhooks.secrets in config.json (or WOOQUEUE_WEBHOOK_SECRET) and restart serve:

                    \(secret)
                """)
        }
    }

    /// 32 random bytes as URL-safe base64: 256 bits.
    static func newSecret() -> String {
        let key = SymmetricKey(size: .bits256)
        return key.withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
