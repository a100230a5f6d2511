import AppConfiguration
import Operations
import QueueCore
import Testing

/// Alert conditions on this process's own readings: no server needed.
@Suite struct LocalAlertRulesTests {
    /// A delivery kept for review made no job: that alone alerts, cluster-wide, with where to look.
    @Test func keptWebhookDeliveriesAlert() {
        let settings = WooqueueConfiguration.AlertSettings()
        let quiet = LocalReadings(badSignatures: 0, spooledDeliveries: 0)
        let one = AlertRules.evaluate(nil, keptDeliveries: 1, settings: settings, process: "web1:42", local: quiet, badSignaturesPerMinute: 0)
        let kept = one.first { $0.id == "kept-deliveries" }
        #expect(kept?.firing == true && kept?.clusterWide == true)
        #expect(kept?.message.contains("dlq list --queue webhooks") == true)
        let none = AlertRules.evaluate(nil, keptDeliveries: 0, settings: settings, process: "web1:42", local: quiet, badSignaturesPerMinute: 0)
        #expect(none.first { $0.id == "kept-deliveries" }?.firing == false)
        #expect(AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: quiet, badSignaturesPerMinute: 0)
            .allSatisfy { $0.id != "kept-deliveries" }, "not evaluated when the list could not be read")
    }

    /// The intake's own failures: a spool Redis refuses, unreadable records set aside, deliveries refused for
    /// load. Each fires on its reading alone and says what to do.
    @Test func aStuckSpoolItsQuarantineAndAnOverloadedIntakeEachFire() {
        let settings = WooqueueConfiguration.AlertSettings()
        let local = LocalReadings(badSignatures: 0, spooledDeliveries: 10, spoolStuck: true, quarantinedBytes: 123, overloadedDeliveries: 7)
        let conditions = AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: local, badSignaturesPerMinute: 0,
                                             overloadedPerMinute: 2)
        let firing = Dictionary(uniqueKeysWithValues: conditions.filter(\.firing).map { ($0.id, $0.message) })
        #expect(Set(firing.keys) == ["spool@web1:42", "spool-stuck@web1:42", "spool-quarantine@web1:42", "overloaded@web1:42"])
        #expect(firing["spool-stuck@web1:42"]?.contains("Redis refuses the writes") == true)
        #expect(firing["spool-quarantine@web1:42"]?.contains("123 bytes") == true)
        #expect(firing["overloaded@web1:42"]?.contains("2 deliveries in the last minute") == true)
        let calm = AlertRules.evaluate(nil, settings: settings, process: "web1:42",
                                       local: LocalReadings(badSignatures: 0, spooledDeliveries: 0, overloadedDeliveries: 7),
                                       badSignaturesPerMinute: 0, overloadedPerMinute: 0)
        #expect(calm.allSatisfy { !$0.firing }, "a refusal more than a minute ago no longer fires")
    }

    /// Redis's replication and failovers, as this process saw them in the last minute.
    @Test func writesTheReplicasDidNotConfirmAndAFailoverEachFire() {
        let settings = WooqueueConfiguration.AlertSettings()
        let local = LocalReadings(badSignatures: 0, spooledDeliveries: 0, replicationShortfalls: 9, failovers: 1)
        let conditions = AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: local, badSignaturesPerMinute: 0,
                                             replicationShortfallsPerMinute: 3, failoversPerMinute: 1)
        let firing = Dictionary(uniqueKeysWithValues: conditions.filter(\.firing).map { ($0.id, $0.message) })
        #expect(Set(firing.keys) == ["redis-wait@web1:42", "redis-failover@web1:42"])
        #expect(firing["redis-wait@web1:42"]?.contains("3 writes in the last minute") == true)
        #expect(firing["redis-wait@web1:42"]?.contains("redis.waitReplicas") == true)
        #expect(firing["redis-failover@web1:42"]?.contains("Sentinel switched the Redis primary") == true)
        let later = AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: local, badSignaturesPerMinute: 0)
        #expect(later.allSatisfy { !$0.firing }, "counted more than a minute ago: resolved")
    }

    /// The webhook check's findings: a condition per watched topic, firing for those with a problem; none at all
    /// when the findings could not be read.
    @Test func aWebhookTheCheckFoundBrokenFiresPerTopic() {
        let settings = WooqueueConfiguration.AlertSettings()
        let quiet = LocalReadings(badSignatures: 0, spooledDeliveries: 0)
        let conditions = AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: quiet, badSignaturesPerMinute: 0,
                                             webhookProblems: ["order.created": "its webhook is disabled"],
                                             watchedTopics: ["product.updated", "order.created"])
        let webhooks = conditions.filter { $0.id.hasPrefix("webhook-disabled:") }
        #expect(webhooks.map(\.id) == ["webhook-disabled:order.created", "webhook-disabled:product.updated"])
        #expect(webhooks.map(\.firing) == [true, false] && webhooks.allSatisfy(\.clusterWide))
        #expect(webhooks[0].message.contains("its webhook is disabled") && webhooks[0].message.contains("wooqueue webhooks sync"))
        let unread = AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: quiet, badSignaturesPerMinute: 0,
                                         webhookProblems: nil, watchedTopics: ["order.created"])
        #expect(!unread.contains { $0.id.hasPrefix("webhook-disabled:") })
    }

    /// `webhooks.silenceAlert`: a topic quiet for longer fires; one with no delivery recorded, or with the setting
    /// off, does not.
    @Test func aTopicQuietForLongerThanTheSilenceAlertFires() {
        let settings = WooqueueConfiguration.AlertSettings()
        let quiet = LocalReadings(badSignatures: 0, spooledDeliveries: 0)
        let now: Int64 = 1_764_500_000_000
        let last: [String: Int64] = ["order.created": now - 3 * 3_600_000, "product.updated": now - 60_000]
        let conditions = AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: quiet, badSignaturesPerMinute: 0,
                                             watchedTopics: ["order.created", "product.updated", "product.deleted"],
                                             lastDeliveries: last, silence: .seconds(7200), now: now)
        let silent = conditions.filter { $0.id.hasPrefix("webhook-silent:") }
        #expect(silent.map(\.id) == ["webhook-silent:order.created", "webhook-silent:product.deleted", "webhook-silent:product.updated"])
        #expect(silent.map(\.firing) == [true, false, false])
        #expect(silent[0].message.contains("for 180 min") && silent[0].message.contains("webhooks status"))
        let corrupt = AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: quiet, badSignaturesPerMinute: 0,
                                          watchedTopics: ["order.created"], lastDeliveries: ["order.created": .min], silence: .seconds(60), now: now)
        #expect(corrupt.first { $0.id == "webhook-silent:order.created" }?.firing == false, "a time that overflows is no time, not a trap")
        let off = AlertRules.evaluate(nil, settings: settings, process: "web1:42", local: quiet, badSignaturesPerMinute: 0,
                                      watchedTopics: ["order.created"], lastDeliveries: last, silence: .zero, now: now)
        #expect(!off.contains { $0.id.hasPrefix("webhook-silent:") })
    }
}
