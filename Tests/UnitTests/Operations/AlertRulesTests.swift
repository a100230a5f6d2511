import AppConfiguration
import Operations
@testable import QueueCore
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

/// Flow control's conditions, from a snapshot as Redis would give it: no server needed.
@Suite struct FlowAlertRulesTests {
    func queue(ready: Int, age: Int64, paused: Int64? = nil, types: [FlowTypeState] = []) -> QueueSnapshot.Queue {
        QueueSnapshot.Queue(name: "medium", ready: ready, active: 0, delayed: 0, dead: 0, enqueued: 0, done: 0, retried: 0, failed: 0, recovered: 0,
                            oldestReadyAgeMillis: age, maxDelayMillis: 300_000,
                            flow: FlowQueueState(queue: "medium", pausedUntil: paused, types: types, now: 1_000_000))
    }

    func evaluate(_ queue: QueueSnapshot.Queue) -> [String: AlertCondition] {
        let snapshot = QueueSnapshot(takenAt: 1_000_000, queues: [queue], processes: [], events: [])
        let conditions = AlertRules.evaluate(snapshot, settings: WooqueueConfiguration.AlertSettings(), process: "w:1",
                                             local: LocalReadings(badSignatures: 0, spooledDeliveries: 0), badSignaturesPerMinute: 0)
        return Dictionary(conditions.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    @Test func aPausedQueueIsNotLateAndItsPendingAlertSaysWhy() {
        let late = evaluate(queue(ready: 500, age: 900_000))
        #expect(late["late:medium"]?.firing == true)
        #expect(late["pending:medium"]?.message.contains("check that its workers run") == true)
        let paused = evaluate(queue(ready: 500, age: 900_000, paused: 0))
        #expect(paused["late:medium"]?.firing == false, "a paused queue waits on purpose")
        #expect(paused["pending:medium"]?.firing == true)
        #expect(paused["pending:medium"]?.message.contains("500 of them are kept by a pause (the queue is paused)") == true)
        let typePaused = evaluate(queue(ready: 0, age: 0, types: [FlowTypeState(type: "sync_erp", queue: "medium", limits: FlowLimits(), waiting: 150, pausedUntil: 0)]))
        #expect(typePaused["pending:medium"]?.message.contains("150 of them are kept by a pause (paused job types: sync_erp)") == true)
    }

    @Test func anOpenCircuitAndARetryAfterHoldFireAndResolvePerType() {
        let limits = FlowLimits(concurrency: 4, breaker: .init(failures: 5, coolDown: .seconds(30)))
        let open = evaluate(queue(ready: 0, age: 0, types: [FlowTypeState(type: "sync_erp", queue: "medium", limits: limits, throttled: 12,
                                                                         circuit: "open", openUntil: 1_030_000)]))
        #expect(open["circuit-open:sync_erp"]?.firing == true)
        #expect(open["circuit-open:sync_erp"]?.message.contains("12 jobs wait, no attempt lost") == true)
        let held = evaluate(queue(ready: 0, age: 0, types: [FlowTypeState(type: "sync_erp", queue: "medium", limits: limits, throttled: 3,
                                                                         heldUntil: 1_120_000)]))
        #expect(held["held:sync_erp"]?.firing == true && held["held:sync_erp"]?.message.contains("wait 120 s more") == true)
        let fine = evaluate(queue(ready: 0, age: 0, types: [FlowTypeState(type: "sync_erp", queue: "medium", limits: limits)]))
        #expect(fine["circuit-open:sync_erp"]?.firing == false && fine["held:sync_erp"]?.firing == false)
    }
}
