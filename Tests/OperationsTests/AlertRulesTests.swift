import AppConfiguration
import Operations
import QueueCore
import TestSupport
import Testing

/// The conditions themselves, on real queue snapshots.
@Suite struct AlertRulesTests {
    @Test func queuesWithoutLiveWorkersLateJobsAndThisProcesssOwnConditions() async throws {
        try await withFreshQueue("alert-rules") { configuration, store in
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
            #expect(offline.map(\.firing) == [true, false, false, false, false, false, false])
        }
    }

    static let localIDs = ["spool@web1:42", "redis-wait@web1:42", "redis-failover@web1:42", "spool-stuck@web1:42", "spool-quarantine@web1:42", "overloaded@web1:42", "bad-signatures@web1:42"]
}
