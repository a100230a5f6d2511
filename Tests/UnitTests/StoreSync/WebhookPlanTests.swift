import StoreSync
import Testing
import WooCommerceAPI

/// What `webhooks sync` would change, worked out from the store's webhooks alone.
@Suite struct WebhookPlanTests {
    static let here = "https://hooks.example/webhooks/woocommerce"
    static let topics = ["order.created", "product.deleted", "product.updated"]

    static func hook(_ id: Int64, _ topic: String, status: String = "active", url: String = here, name: String = "") -> StoreWebhook {
        StoreWebhook(id: id, name: name, status: status, topic: topic, deliveryURL: url)
    }

    @Test func anEmptyStoreGetsOneActiveWebhookPerRoutedTopicWithTheSecret() {
        let plan = WebhookPlan.make(topics: Self.topics, webhooks: [Self.hook(9, "order.created", url: "https://erp.example/hook")],
                                    deliveryURL: Self.here, secret: "s3cret")
        #expect(plan.steps == Self.topics.map {
            .create(topic: $0, WebhookChange(name: "wooqueue: \($0)", status: "active", topic: $0, deliveryURL: Self.here, secret: "s3cret"))
        })
        #expect(plan.elsewhere.map(\.id) == [9], "a webhook delivering elsewhere is left alone")
    }

    @Test func disabledWrongURLWrongTopicAndDuplicatesAreFixedAndNothingElseChanges() {
        let webhooks = [
            Self.hook(1, "order.created", status: "disabled"),  // WooCommerce disabled it
            Self.hook(2, "product.updated", url: "https://old-host.example/webhooks/woocommerce", name: "wooqueue: product.updated"),
            Self.hook(3, "product.updated"),  // the right one: kept, the misdirected 2 goes
            Self.hook(4, "order.updated"),  // ours, on a topic no route takes: becomes the missing product.deleted
            Self.hook(5, "customer.created", url: "https://crm.example/in"),  // someone else's
            Self.hook(6, "order.created", status: "paused"),  // a second one for order.created
        ]
        let plan = WebhookPlan.make(topics: Self.topics, webhooks: webhooks, deliveryURL: Self.here, secret: "s")
        #expect(plan.steps == [
            .update(webhooks[0], WebhookChange(status: "active"), reasons: ["disabled → active"]),
            .delete(webhooks[5], reason: "a second webhook of ours for order.created (webhook 1 stays)"),
            .update(webhooks[3], WebhookChange(topic: "product.deleted"), reasons: ["topic order.updated → product.deleted"]),
            .delete(webhooks[1], reason: "a second webhook of ours for product.updated (webhook 3 stays)"),
        ], "\(plan.lines)")
        #expect(plan.elsewhere.map(\.id) == [5])
    }

    @Test func aWebhookOfOursWithTheWrongURLIsPointedHereAndGivenTheSecretWhenItsSignaturesWereRefused() {
        let moved = Self.hook(7, "order.created", url: "http://HOOKS.example/webhooks/woocommerce/", name: "wooqueue: order.created")
        #expect(WebhookPlan.sameURL(moved.deliveryURL, Self.here) == false, "the scheme differs")
        let plan = WebhookPlan.make(topics: ["order.created"], webhooks: [moved], deliveryURL: Self.here, secret: "s", needsSecret: [7])
        #expect(plan.steps == [.update(moved, WebhookChange(deliveryURL: Self.here, secret: "s"),
                                       reasons: ["delivery URL \(moved.deliveryURL) → \(Self.here)", "the intake refused its signatures: secret set again"])])
        #expect(WebhookPlan.sameURL("https://HOOKS.example/webhooks/woocommerce/", Self.here), "host case and a trailing / do not count")
        #expect(!WebhookPlan.sameURL("https://hooks.example/Webhooks/woocommerce", Self.here), "the path's case does")
    }

    @Test func aStoreThatMatchesNeedsNothing() {
        let webhooks = Self.topics.enumerated().map { Self.hook(Int64($0.offset + 1), $0.element) }
        let plan = WebhookPlan.make(topics: Self.topics, webhooks: webhooks, deliveryURL: Self.here, secret: "s")
        #expect(plan.steps.isEmpty && plan.lines.isEmpty)
        // Ours on a topic no longer routed is removed.
        let trimmed = WebhookPlan.make(topics: ["order.created"], webhooks: webhooks, deliveryURL: Self.here, secret: "s")
        #expect(trimmed.lines == ["delete webhook 2 (product.deleted): its topic product.deleted is not routed",
                                  "delete webhook 3 (product.updated): its topic product.updated is not routed"])
    }

    /// `--rotate-secret`: every webhook kept gets the new secret, with nothing else changed; others are untouched.
    @Test func aRotationGivesEveryWebhookOfOursTheNewSecret() {
        let webhooks = Self.topics.enumerated().map { Self.hook(Int64($0.offset + 1), $0.element) } + [Self.hook(9, "order.created", url: "https://erp.example/in")]
        let plan = WebhookPlan.make(topics: Self.topics, webhooks: webhooks, deliveryURL: Self.here, secret: "new", rotate: true)
        #expect(plan.steps == webhooks.prefix(3).map { .update($0, WebhookChange(secret: "new"), reasons: ["secret rotated"]) })
        #expect(plan.elsewhere.map(\.id) == [9])
    }

    /// A delivery URL with basic-auth credentials (for a proxy) never shows its password in the plan's lines.
    @Test func aDeliveryURLsPasswordIsNotShown() {
        let old = "https://hooks:s3cret@old.example/webhooks/woocommerce"
        let new = "https://hooks:n3w-s3cret@hooks.example/webhooks/woocommerce"
        let plan = WebhookPlan.make(topics: ["order.created"], webhooks: [Self.hook(1, "order.created", url: old, name: "wooqueue: order.created")],
                                    deliveryURL: new, secret: "s")
        #expect(plan.lines.count == 1 && !plan.lines[0].contains("s3cret") && plan.lines[0].contains("hooks:***@hooks.example"), "\(plan.lines)")
        #expect(WebhookPlan.redacted("https://hooks.example/in") == "https://hooks.example/in")
    }
}
