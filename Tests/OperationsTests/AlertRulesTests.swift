import Operations
import QueueCore
import TestSupport
import Testing

/// The conditions themselves, on real queue snapshots.
@Suite struct AlertRulesTests {
    @Test func queuesWithoutLiveWorkersLateJobsAndThisProcesssOwnConditions() async throws {
        let configuration = try TestEnvironment.configuration(prefix: TestEnvironment.uniquePrefix("alert-rules"))
        let store = try TestEnvironment.store(configuration)
        let now = WallClock.nowMillis()
        // A job on high due 31 s ago: later than high's 30 s max delay, and no worker process at all.
        _ = try await store.enqueue([JobEnvelope(type: "noop", queue: "high", maxAttempts: 1, enqueuedAt: now - 31_000, runAt: now - 31_000)],
                                    now: now)
        let snapshot = try await store.snapshot(queues: configuration.queues, latestEvents: 0)
        var settings = configuration.alerts
        settings.badSignaturesPerMinute = 5
        let conditions = AlertRules.evaluate(snapshot, settings: settings, process: "web1:42",
                                             local: LocalReadings(badSignatures: 99, spooledDeliveries: 3), badSignaturesPerMinute: 5)
        let firing = Set(conditions.filter(\.firing).map(\.id))
        #expect(firing == ["late:high", "no-worker:high", "spool@web1:42", "bad-signatures@web1:42"])
        #expect(conditions.first { $0.id == "no-worker:high" }?.message.contains("1 ready jobs and no live worker") == true)
        #expect(conditions.filter { !$0.clusterWide }.map(\.id) == Self.localIDs)
        // Without Redis, only this process's conditions are evaluated.
        let offline = AlertRules.evaluate(nil, settings: settings, process: "web1:42",
                                          local: LocalReadings(badSignatures: 0, spooledDeliveries: 1), badSignaturesPerMinute: 0)
        #expect(offline.map(\.id) == Self.localIDs)
        #expect(offline.map(\.firing) == [true, false, false, false, false])
        _ = try await store.deleteAllKeys()
    }

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

    static let localIDs = ["spool@web1:42", "spool-stuck@web1:42", "spool-quarantine@web1:42", "overloaded@web1:42", "bad-signatures@web1:42"]

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
}
