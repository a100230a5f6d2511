import AppConfiguration
import Foundation
import QueueCore
import RedisClient
import TestSupport
import Testing

@Suite struct QueueStoreTests {
    func withStore(_ json: String = "{}", _ body: (QueueStore, WooqueueConfiguration) async throws -> Void) async throws {
        try await withFreshQueue("store", json) { configuration, store in try await body(store, configuration) }
    }

    func job(_ queue: String, _ n: Int, runAt: Int64? = nil) -> JobEnvelope {
        JobEnvelope(type: "noop", queue: queue, payload: Array(#"{"n":\#(n)}"#.utf8), maxAttempts: 3, runAt: runAt, key: "k\(n)")
    }

    @Test func fetchIsFIFOAndMovesJobsToTheActiveList() async throws {
        try await withStore { store, _ in
            let jobs = (0..<10).map { job("low", $0) }
            try await store.enqueue(jobs)
            let first = try await store.fetch(queue: "low", holder: "p1", max: 4, workers: 1)
            let second = try await store.fetch(queue: "low", holder: "p1", max: 100, workers: 1)
            #expect((first + second).compactMap(JobEnvelope.id(of:)) == jobs.map(\.id))
            let k = store.keys("low")
            #expect(try await store.connection.send("LLEN", k.ready) == .integer(0))
            #expect(try await store.connection.send("LLEN", k.active(holder: "p1")) == .integer(10))
            #expect(try await store.jobStatus(id: jobs[0].id, queues: ["low"])?.status == "processing")
        }
    }

    @Test func aPayloadWithItsOwnCoalesceMemberIsTakenByteForByte() async throws {
        try await withStore { store, _ in
            let payload = #"{"coalesce":"product:1","note":"x"}"#
            let job = JobEnvelope(type: "noop", queue: "low", payload: Array(payload.utf8), maxAttempts: 1)
            try await store.enqueue([job])
            let taken = try await store.fetch(queue: "low", holder: "p", max: 1, workers: 1)
            #expect(taken == [job.encoded()])
        }
    }

    @Test("parts split off a job are written with its outcome, and not at all when the job was no longer held")
    func splitPartsFollowTheirJob() async throws {
        try await withStore { store, _ in
            let jobs = (0..<2).map { job("low", $0) }
            try await store.enqueue(jobs)
            let held = try await store.fetch(queue: "low", holder: "p", max: 10, workers: 1)
            let parts = (0..<3).map { index in
                let part = job("low", 100 + index)
                return Settlement(kind: .dead, id: part.id, held: [], replacement: part.encoded())
            }
            let stale = try await store.settle(queue: "low", holder: "p", [
                Settlement(kind: .done, id: jobs[0].id, held: held[0]), parts[0], parts[1],
                Settlement(kind: .done, id: "recovered meanwhile", held: Array("not held".utf8)), parts[2],
                Settlement(kind: .done, id: jobs[1].id, held: held[1]),
            ])
            #expect(stale == 1)
            let dead = try await store.deadLetters(queue: "low").compactMap(\.envelope?.key)
            #expect(Set(dead) == ["k100", "k101"])
            let low = try #require(try await store.snapshot(queues: try TestEnvironment.configuration(prefix: "x").queues.filter { $0.name == "low" }).queues.first)
            #expect((low.done, low.dead, low.enqueued) == (2, 2, 4))  // the two parts count as enqueued
        }
    }

    @Test func fetchTakesAFairShareForThePool() async throws {
        try await withStore { store, _ in
            try await store.enqueue((0..<10).map { job("high", $0) })
            // 10 ready, 3 workers: one worker takes ceil(10/3) = 4, leaving work for the others.
            #expect(try await store.fetch(queue: "high", holder: "p", max: 100, workers: 3).count == 4)
        }
    }

    @Test func settleWritesEveryOutcome() async throws {
        try await withStore { store, _ in
            let jobs = (0..<4).map { job("medium", $0) }
            try await store.enqueue(jobs)
            let held = try await store.fetch(queue: "medium", holder: "p", max: 10, workers: 1)
            var retried = try JobEnvelope(decoding: held[1])
            retried.attempt = 1
            let due = WallClock.nowMillis() + 60_000
            let stale = try await store.settle(queue: "medium", holder: "p", [
                Settlement(kind: .done, id: jobs[0].id, held: held[0]),
                Settlement(kind: .retry, id: jobs[1].id, held: held[1], replacement: retried.encoded(), due: due),
                Settlement(kind: .dead, id: jobs[2].id, held: held[2], replacement: held[2]),
                Settlement(kind: .requeue, id: jobs[3].id, held: held[3], replacement: held[3]),
                Settlement(kind: .done, id: "gone", held: Array("not held".utf8)),
            ])
            #expect(stale == 1)
            let snapshot = try await store.snapshot(queues: try TestEnvironment.configuration(prefix: "x").queues.filter { $0.name == "medium" })
            let medium = try #require(snapshot.queues.first)
            #expect((medium.ready, medium.delayed, medium.dead, medium.done, medium.retried, medium.failed) == (1, 1, 1, 1, 1, 1))
            #expect(try await store.jobStatus(id: jobs[0].id, queues: ["medium"])?.status == "done")
            #expect(try await store.jobStatus(id: jobs[1].id, queues: ["medium"])?.status == "retry")
            #expect(try await store.jobStatus(id: jobs[2].id, queues: ["medium"])?.status == "failed")
            #expect(try await store.jobStatus(id: jobs[3].id, queues: ["medium"])?.status == "pending")
            #expect(try await store.jobStatus(id: "never", queues: ["medium"]) == nil)
        }
    }

    /// Ack-and-fetch: one call writes the outcomes, then takes the next jobs, as a settle then a fetch would.
    @Test func settleAndFetchWritesOutcomesThenTakesTheNextJobs() async throws {
        try await withStore { store, _ in
            let jobs = (0..<6).map { job("medium", $0) }
            try await store.enqueue(jobs)
            let held = try await store.fetch(queue: "medium", holder: "p", max: 2, workers: 1)
            let (stale, taken) = try await store.settleAndFetch(queue: "medium", holder: "p", [
                Settlement(kind: .done, id: jobs[0].id, held: held[0], event: JobEvent(at: 1, id: jobs[0].id, type: "noop", queue: "medium", key: nil,
                                                                                       event: "done", status: "done", attempt: 1, error: nil)),
                Settlement(kind: .dead, id: jobs[1].id, held: held[1], replacement: held[1]),
                Settlement(kind: .done, id: "gone", held: Array("not held".utf8)),
            ], max: 3, workers: 1)
            #expect(stale == 1)
            #expect(taken.compactMap(JobEnvelope.id(of:)) == jobs[2..<5].map(\.id))
            let k = store.keys("medium")
            // The settled jobs left the active list; the three taken are in it.
            #expect(try await store.connection.send("LRANGE", k.active(holder: "p"), "0", "-1").array?.compactMap(\.bytes).sorted { $0.lexicographicallyPrecedes($1) }
                    == taken.sorted { $0.lexicographicallyPrecedes($1) })
            #expect(try await store.jobStatus(id: jobs[0].id, queues: ["medium"])?.status == "done")
            #expect(try await store.jobStatus(id: jobs[1].id, queues: ["medium"])?.status == "failed")
            #expect(try await store.jobStatus(id: jobs[2].id, queues: ["medium"])?.status == "processing")
            #expect(try await store.jobStatus(id: jobs[5].id, queues: ["medium"])?.status == "pending")
            #expect(try await store.connection.send("LLEN", k.events) == .integer(1))
            let medium = try #require(try await store.snapshot(queues: try TestEnvironment.configuration(prefix: "x").queues.filter { $0.name == "medium" }).queues.first)
            #expect((medium.ready, medium.done, medium.dead) == (1, 1, 1))
            // An empty queue: the outcomes are still written, and nothing is taken.
            let rest = try await store.fetch(queue: "medium", holder: "p", max: 10, workers: 1)
            let (_, none) = try await store.settleAndFetch(queue: "medium", holder: "p", (taken + rest).map {
                Settlement(kind: .done, id: JobEnvelope.id(of: $0) ?? "", held: $0)
            }, max: 10, workers: 1)
            #expect(none.isEmpty)
            #expect(try await store.connection.send("LLEN", k.active(holder: "p")) == .integer(0))
        }
    }

    /// A job whose envelope is over 4 KB (a catalogue page), padded to `size` bytes of payload.
    func large(_ queue: String, _ n: Int, size: Int = 6000) -> JobEnvelope {
        JobEnvelope(type: "inventory.upsert", queue: queue, payload: Array(#"{"n":\#(n),"pad":"\#(String(repeating: "p", count: size))"}"#.utf8),
                    maxAttempts: 3, key: "k\(n)")
    }

    /// Calls per command since the server started (`INFO commandstats`), scripts' calls included.
    func commandCalls(_ store: QueueStore) async throws -> [String: Int] {
        let info = try await store.connection.send("INFO", "commandstats").string ?? ""
        var calls: [String: Int] = [:]
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_") {
            guard let colon = line.firstIndex(of: ":"), let count = line.split(separator: ",").first?.split(separator: "=").last.flatMap({ Int($0) }) else { continue }
            calls[String(line[line.index(line.startIndex, offsetBy: 8)..<colon])] = count
        }
        return calls
    }

    /// The ids of the jobs in holder `p`'s active list, head first.
    func activeIDs(_ store: QueueStore, _ keys: QueueKeys) async throws -> [String] {
        try await store.connection.send("LRANGE", keys.active(holder: "p"), "0", "-1").array?.compactMap(\.bytes).compactMap(JobEnvelope.id(of:)) ?? []
    }

    /// Large envelopes are moved into the active list and released without being sent back (`@<length>` records):
    /// found at the tail, or elsewhere in the list, and never mistaken for another job of the same size.
    @Test func largeEnvelopesAreReleasedByTheirIdWhereverTheyAreHeld() async throws {
        try await withStore { store, _ in
            let k = store.keys("bulk")
            let jobs = (0..<4).map { large("bulk", $0) }
            try await store.enqueue(jobs)
            let held = try await store.fetch(queue: "bulk", holder: "p", max: 4, workers: 1)
            #expect(held.compactMap(JobEnvelope.id(of:)) == jobs.map(\.id))
            #expect(held.allSatisfy { $0.count > 4096 })
            // Oldest at the tail, as the worker settles them.
            #expect(try await store.connection.send("LINDEX", k.active(holder: "p"), "-1").bytes == held[0])
            // Not at the tail (a later job first), then at the tail, then one no longer held (stale), and one never
            // taken (stale). Only the first is removed by its bytes; the one at the tail is trimmed off.
            let never = large("bulk", 7)
            let before = try await commandCalls(store)
            let stale = try await store.settle(queue: "bulk", holder: "p", [
                Settlement(kind: .done, id: jobs[2].id, held: held[2]),
                Settlement(kind: .done, id: jobs[0].id, held: held[0]),
                Settlement(kind: .done, id: jobs[0].id, held: held[0]),
                Settlement(kind: .done, id: never.id, held: never.encoded()),
            ])
            #expect(stale == 2)
            let after = try await commandCalls(store)
            #expect(after["lrem", default: 0] - before["lrem", default: 0] == 1)
            #expect(after["ltrim", default: 0] - before["ltrim", default: 0] == 1)
            #expect(try await activeIDs(store, k) == [jobs[3].id, jobs[1].id])
            // With the next jobs in one call: a retry keeps its new envelope.
            try await store.enqueue([large("bulk", 9)])
            var retried = try JobEnvelope(decoding: held[1])
            retried.attempt = 1
            let (_, taken) = try await store.settleAndFetch(queue: "bulk", holder: "p", [
                Settlement(kind: .retry, id: jobs[1].id, held: held[1], replacement: retried.encoded(), due: 1),
                Settlement(kind: .done, id: jobs[3].id, held: held[3]),
            ], max: 5, workers: 1)
            #expect(taken.count == 1)
            #expect(try await activeIDs(store, k) == taken.compactMap(JobEnvelope.id(of:)))
            #expect(try await store.connection.send("ZRANGE", k.delayed, "0", "-1").array?.compactMap(\.bytes) == [retried.encoded()],
                    "the retry's new envelope is in the delayed set")
            let bulk = try #require(try await store.snapshot(queues: try TestEnvironment.configuration(prefix: "x").queues.filter { $0.name == "bulk" }).queues.first)
            #expect(bulk.done == 3)
        }
    }

    /// Taking large envelopes one by one still fills a merging job taken among them, in the list as in the reply.
    @Test func aMergingJobTakenAmongLargeOnesIsFilledInTheActiveList() async throws {
        try await withStore { store, _ in
            let k = store.keys("bulk")
            try await store.enqueue([large("bulk", 1)])
            try await store.enqueue([upsert(794, modified: "2026-11-20T15:00:00", name: "first")])
            try await store.enqueue([upsert(794, modified: "2026-11-20T15:01:00", name: "newest")])
            try await store.enqueue([large("bulk", 2)])
            let taken = try await store.fetch(queue: "bulk", holder: "p", max: 10, workers: 1)
            #expect(taken.count == 3)
            let merged = try JobEnvelope(decoding: taken[1])
            #expect(merged.payloadText.contains(#""name":"newest""#))
            // The list holds what the worker got back, newest first.
            let listed = try await store.connection.send("LRANGE", k.active(holder: "p"), "0", "-1").array?.compactMap(\.bytes) ?? []
            #expect(listed.count == 3 && listed == taken.reversed(), "the active list holds what was returned, newest first")
            #expect(try await store.settle(queue: "bulk", holder: "p", taken.map { Settlement(kind: .done, id: JobEnvelope.id(of: $0) ?? "", held: $0) }) == 0)
            #expect(try await store.connection.send("LLEN", k.active(holder: "p")) == .integer(0))
        }
    }

    /// `workers.jobStatus: "outcomes"`: a job taken keeps reading `pending` until its outcome.
    @Test func aFetchThatDoesNotMarkLeavesJobsPending() async throws {
        try await withStore { store, _ in
            let jobs = (0..<3).map { job("low", $0) }
            try await store.enqueue(jobs)
            let taken = try await store.fetch(queue: "low", holder: "p", max: 2, workers: 1, markProcessing: false)
            #expect(try await store.jobStatus(id: jobs[0].id, queues: ["low"])?.status == "pending")
            let (_, next) = try await store.settleAndFetch(queue: "low", holder: "p", [Settlement(kind: .done, id: jobs[0].id, held: taken[0])],
                                                           max: 5, workers: 1, markProcessing: false)
            #expect(next.compactMap(JobEnvelope.id(of:)) == [jobs[2].id])
            #expect(try await store.jobStatus(id: jobs[0].id, queues: ["low"])?.status == "done")
            #expect(try await store.jobStatus(id: jobs[2].id, queues: ["low"])?.status == "pending")
        }
    }

    @Test func delayedJobsBecomeReadyWhenDue() async throws {
        try await withStore { store, _ in
            let now = WallClock.nowMillis()
            try await store.enqueue([job("low", 1, runAt: now + 60_000), job("low", 2, runAt: now + 120_000)], now: now)
            #expect(try await store.promoteDue(queues: ["low"], now: now + 1000) == 0)
            #expect(try await store.fetch(queue: "low", holder: "p", max: 10, workers: 1).isEmpty)
            #expect(try await store.promoteDue(queues: ["low"], now: now + 60_000) == 1)
            #expect(try await store.promoteDue(queues: ["low"], now: Int64.max) == 1)
            let ids = try await store.fetch(queue: "low", holder: "p", max: 10, workers: 1).compactMap { try? JobEnvelope(decoding: $0).key }
            #expect(ids == ["k1", "k2"])
        }
    }

    @Test func deadProcessesJobsGoBackToTheHeadWithARecoveryCount() async throws {
        try await withStore { store, configuration in
            try await store.enqueue((0..<7).map { job("bulk", $0) })
            let record = WorkerProcessRecord(id: "dead-proc", host: "h", pid: 1, queues: ["bulk"], workers: [2], startedAt: 0, heartbeatAt: 0)
            let first = try await store.fetch(queue: "bulk", holder: "dead-proc.0", max: 2, workers: 1)
            let second = try await store.fetch(queue: "bulk", holder: "dead-proc.1", max: 1, workers: 1)
            try await store.heartbeat(record, ttl: .milliseconds(50))
            #expect(try await store.silentProcesses().isEmpty, "alive while its heartbeat lasts")
            try await Task.sleep(for: .milliseconds(120))
            let silent = try await store.silentProcesses(except: "me")
            #expect(silent.map(\.id) == ["dead-proc"])
            #expect(try await store.recover(silent[0]) == ["bulk": 3])
            #expect(try await store.recover(silent[0]) == nil, "a second recoverer finds it claimed")
            // Recovered jobs are next in line, in their original order within each worker, counted once.
            let next = try await store.fetch(queue: "bulk", holder: "me", max: 7, workers: 1).map { try JobEnvelope(decoding: $0) }
            #expect(Set(next.prefix(3).map(\.id)) == Set((first + second).compactMap(JobEnvelope.id(of:))))
            #expect(next.prefix(3).map(\.recoveries) == [1, 1, 1])
            #expect(next.suffix(4).map(\.key) == ["k3", "k4", "k5", "k6"], "the jobs that were waiting come after, in order")
            #expect(next.suffix(4).map(\.recoveries) == [0, 0, 0, 0])
            #expect(try await store.registeredProcesses().isEmpty)
            let snapshot = try await store.snapshot(queues: configuration.queues)
            #expect(snapshot.queues.first { $0.name == "bulk" }?.recovered == 3)
            #expect(snapshot.events.filter { $0.event == "recovered" }.count == 3)
        }
    }

    @Test func aProcessThatBeatsAgainCannotBeClaimed() async throws {
        try await withStore { store, _ in
            let record = WorkerProcessRecord(id: "slow-proc", host: "h", pid: 1, queues: ["low"], workers: [1], startedAt: 0, heartbeatAt: 0)
            try await store.enqueue([job("low", 1)])
            _ = try await store.fetch(queue: "low", holder: "slow-proc.0", max: 1, workers: 1)
            try await store.heartbeat(record, ttl: .milliseconds(50))
            try await Task.sleep(for: .milliseconds(120))
            let silent = try await store.silentProcesses()
            try await store.heartbeat(record, ttl: .seconds(10))  // it was only stalled
            #expect(try await store.recover(silent[0]) == nil)
            #expect(try await store.heldJobs(record) == 1, "its job stays with it")
        }
    }

    @Test func aWorkerGivesBackWhatItHoldsWithoutCountingARecovery() async throws {
        try await withStore { store, _ in
            try await store.enqueue((0..<3).map { job("high", $0) })
            let held = try await store.fetch(queue: "high", holder: "w.0", max: 2, workers: 1)
            #expect(try await store.returnHeld(queue: "high", holder: "w.0") == 2)
            let again = try await store.fetch(queue: "high", holder: "w.0", max: 3, workers: 1).map { try JobEnvelope(decoding: $0) }
            #expect(again.prefix(2).map(\.id) == held.compactMap(JobEnvelope.id(of:)), "back at the head, in order")
            #expect(again.map(\.recoveries) == [0, 0, 0])
        }
    }

    @Test func deadLettersCanBeRetriedAndDeleted() async throws {
        try await withStore { store, _ in
            try await store.enqueue([job("high", 1), job("high", 2)])
            let held = try await store.fetch(queue: "high", holder: "p", max: 10, workers: 1)
            var dead = held.map { try! JobEnvelope(decoding: $0) }
            for index in dead.indices { dead[index].attempt = 3; dead[index].lastError = "boom \(index)"; dead[index].deadAt = 1 }
            try await store.settle(queue: "high", holder: "p", zip(held, dead).map {
                Settlement(kind: .dead, id: $1.id, held: $0, replacement: $1.encoded())
            })
            let letters = try await store.deadLetters(queue: "high")
            #expect(letters.count == 2)
            #expect(Set(letters.compactMap { $0.envelope?.lastError }) == ["boom 0", "boom 1"])
            #expect(try await store.retryDeadLetters(letters.filter { $0.envelope?.key == "k1" }) == 1)
            #expect(try await store.deleteDeadLetters(letters.filter { $0.envelope?.key == "k2" }) == 1)
            #expect(try await store.deadLetters(queue: "high").isEmpty)
            let back = try JobEnvelope(decoding: try #require(try await store.fetch(queue: "high", holder: "p", max: 10, workers: 1).first))
            #expect(back.key == "k1" && back.attempt == 0 && back.lastError == "boom 0" && back.deadAt == nil)
        }
    }

    func upsert(_ product: Int, modified: String, name: String) -> JobEnvelope {
        var job = JobEnvelope(type: "inventory.upsert", queue: "bulk",
                              payload: Array(#"{"id":\#(product),"name":"\#(name)","date_modified_gmt":"\#(modified)"}"#.utf8),
                              maxAttempts: 2, key: "product:\(product)")
        job.coalescing = .init(key: "product:\(product)", version: modified)
        return job
    }

    @Test func fiftyUpdatesOfAProductWaitAsOneJobWithTheNewestState() async throws {
        try await withStore { store, _ in
            // Fifty deliveries, arriving out of order: the newest state is #37.
            var updates = (0..<50).map { upsert(794, modified: String(format: "2026-11-20T15:%02d:00", $0), name: "v\($0)") }
            updates.swapAt(37, 49)
            var totals = QueueStore.EnqueueResult()
            for update in updates {
                let result = try await store.enqueue([update])
                totals.added += result.added
                totals.merged += result.merged
            }
            #expect(totals == .init(added: 1, merged: 49))
            try await store.enqueue([upsert(900, modified: "2026-11-20T10:00:00", name: "other")])
            let taken = try await store.fetch(queue: "bulk", holder: "w.0", max: 10, workers: 1).map { try JobEnvelope(decoding: $0) }
            #expect(taken.count == 2)
            #expect(taken[0].payloadText.contains(#""name":"v49""#), "the newest state (15:49) won: \(taken[0].payloadText)")
            #expect(taken[0].unknownMembers.contains { $0.key == "coalesced" }, "filled once, never again")
            #expect(taken[1].payloadText.contains(#""name":"other""#))
            #expect(try await store.connection.send("HLEN", store.keys("bulk").coalesce) == .integer(0))
            // Once taken, a new delivery starts a new waiting job.
            #expect(try await store.enqueue([upsert(794, modified: "2026-11-20T16:00:00", name: "later")]) == .init(added: 1, merged: 0))
        }
    }

    func delete(_ product: Int) -> JobEnvelope {
        var job = JobEnvelope(type: "inventory.delete", queue: "bulk", payload: Array(#"{"id":\#(product)}"#.utf8), maxAttempts: 2,
                              key: "product:\(product)")
        job.coalescing = .init(key: "product:\(product)", version: "", merges: false)
        return job
    }

    @Test func aDeletionEndsTheMergeWindowSoOrderIsKept() async throws {
        try await withStore { store, _ in
            // In one batch, and across calls: update, delete, update again must run in that order.
            try await store.enqueue([upsert(7, modified: "2026-11-20T15:00:00", name: "before"), delete(7)])
            try await store.enqueue([upsert(7, modified: "2026-11-20T16:00:00", name: "restored")])
            try await store.enqueue([upsert(7, modified: "2026-11-20T16:30:00", name: "restored-later")])
            let taken = try await store.fetch(queue: "bulk", holder: "w.0", max: 10, workers: 1).map { try JobEnvelope(decoding: $0) }
            #expect(taken.map(\.type) == ["inventory.upsert", "inventory.delete", "inventory.upsert"])
            #expect(taken[0].payloadText.contains(#""name":"before""#))
            #expect(taken[2].payloadText.contains(#""name":"restored-later""#), "updates after the deletion merge among themselves")
            #expect(try await store.connection.send("HLEN", store.keys("bulk").coalesce) == .integer(0))
        }
    }

    @Test func anOlderStateArrivingLastDoesNotReplaceANewerOne() async throws {
        try await withStore { store, _ in
            try await store.enqueue([upsert(1, modified: "2026-11-20T15:03:11", name: "newer")])
            try await store.enqueue([upsert(1, modified: "2026-11-20T15:03:10", name: "older")])
            let taken = try JobEnvelope(decoding: try #require(try await store.fetch(queue: "bulk", holder: "w.0", max: 1, workers: 1).first))
            #expect(taken.payloadText.contains(#""name":"newer""#))
        }
    }

    @Test func aCoalescingJobTakenWhileWaitingInBLMOVEGetsItsPayload() async throws {
        try await withStore { store, _ in
            let waiter = store.withNewConnection(label: "waiter")
            async let first = waiter.waitForJob(queue: "bulk", holder: "w.0", timeout: .seconds(5))
            try await waitUntil("the waiter to block") {
                let clients = try await store.connection.send("CLIENT", "LIST", "TYPE", "normal").string ?? ""
                return clients.contains("cmd=blmove")
            }
            try await store.enqueue([upsert(5, modified: "2026-11-20T15:00:00", name: "five")])
            let raw = try #require(try await first)
            #expect(String(decoding: raw, as: UTF8.self).hasSuffix(#""payload":{}}"#), "BLMOVE sees the waiting form")
            let filled = try await store.fetch(queue: "bulk", holder: "w.0", max: 0, workers: 1, held: raw)
            #expect(filled.count == 1)
            #expect(try JobEnvelope(decoding: filled[0]).payloadText.contains(#""name":"five""#))
            let active = try await store.connection.send("LRANGE", store.keys("bulk").active(holder: "w.0"), "0", "-1").array ?? []
            #expect(active.compactMap(\.bytes) == filled, "the active list holds the filled envelope, not the waiting one")
        }
    }

    /// What the intake saw: times only move forward (several intakes write), and the refusals per sender stop
    /// taking new senders at the bound, since unsigned requests name them.
    @Test func intakeActivityTimesMoveForwardAndRefusedSendersAreBounded() async throws {
        try await withStore { store, _ in
            try await store.recordIntakeActivity(lastDelivery: ["order.created": 2_000], refused: [:])
            try await store.recordIntakeActivity(lastDelivery: ["order.created": 1_000, "product.updated": 5], refused: [:])
            #expect(try await store.intakeActivity().lastDelivery == ["order.created": 2_000, "product.updated": 5])

            let bound = QueueStore.refusedSendersKept
            try await store.recordIntakeActivity(lastDelivery: [:], refused: Dictionary(uniqueKeysWithValues: (1...bound).map { ("\($0)", 1) }))
            try await store.recordIntakeActivity(lastDelivery: [:], refused: ["1": 2, "999999": 1])
            let refused = try await store.intakeActivity().refused
            #expect(refused.count == bound && refused["1"] == 3 && refused["999999"] == nil, "\(refused.count) senders")
            try await store.clearRefusedSignatures(senders: ["1", "2"])
            #expect(try await store.intakeActivity().refused.count == bound - 2)
        }
    }

    @Test func deliveriesAreClaimedOnceButAClaimRecognisesItsOwnToken() async throws {
        try await withStore { store, _ in
            let a = QueueStore.DeliveryClaim(key: "a-\(UInt32.random(in: 0...UInt32.max))", token: "t1")
            let b = QueueStore.DeliveryClaim(key: "b-\(UInt32.random(in: 0...UInt32.max))", token: "t2")
            #expect(try await store.claimDeliveries([a, b], retention: .seconds(60)) == [.new, .new])
            // A repeat (another acceptance, another token) is refused; the same acceptance claiming again (its
            // first reply was lost and it was spooled) is not.
            #expect(try await store.claimDeliveries([.init(key: b.key, token: "t3"), b], retention: .seconds(60)) == [.repeated, .new])
            let ttl = try await store.connection.send("PTTL", store.deliveryKeys.seen(a.key)).int ?? 0
            #expect(ttl > 50_000 && ttl <= 60_000)
            // Confirmed (redis.waitReplicas), a claim is marked as stored, even when the replicas fell short (the
            // test Redis has none): its own token then finds it stored, another token still a repeat.
            let waiting = QueueStore(connection: store.connection, prefix: store.prefix, replicationWait: ReplicationWait(replicas: 1, timeout: .milliseconds(10)))
            await #expect(throws: ReplicationShortfall.self) { try await waiting.confirmDeliveries([a], retention: .seconds(60)) }
            #expect(try await store.claimDeliveries([a, .init(key: a.key, token: "t4")], retention: .seconds(60)) == [.stored, .repeated])
            try await store.confirmDeliveries([b], retention: .seconds(60))  // no replicationWait: nothing to mark
            #expect(try await store.claimDeliveries([b], retention: .seconds(60)) == [.new])
        }
    }

    /// The eviction policy is read from `INFO memory` (managed services refuse `CONFIG GET`): the test Redis is set
    /// to evict for a moment, and set back whatever happens.
    @Test func refusesARedisThatEvictsKeys() async throws {
        try await withStore { store, _ in
            #expect(try await store.checkServer(allowEviction: false) == "noeviction")
            try await store.connection.send("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
            do {
                await #expect(throws: EvictionPolicyError.self) { try await store.checkServer(allowEviction: false) }
                #expect(try await store.checkServer(allowEviction: true) == "allkeys-lru", "--allow-eviction starts anyway")
            } catch {
                try await store.connection.send("CONFIG", "SET", "maxmemory-policy", "noeviction")
                throw error
            }
            try await store.connection.send("CONFIG", "SET", "maxmemory-policy", "noeviction")
            // KEYS, not one SCAN page: a page may come back empty while keys remain.
            let left = try await store.connection.send("KEYS", "\(store.prefix):{server-check}:*")
            #expect(left.array?.isEmpty == true, "the check's probe keys are removed: \(left)")
        }
        let error = EvictionPolicyError(policy: "allkeys-lru")
        #expect(error.description.contains("deletes queued jobs"))
        #expect(error.description.contains("--allow-eviction"))
    }

    /// A Redis Cluster node is refused at start with the reason, not with the MOVED errors its probes would get.
    @Test func refusesARedisCluster() async throws {
        // The cluster bus port must be given: by default it is the port + 10,000, past 65,535 for a high free port.
        let node = try await RedisServerProcess(arguments: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                                            "--cluster-port", "\(try freePort())"])
        defer { node.stop() }
        let store = try QueueStore(url: node.url, label: "cluster", prefix: "wq")
        let error = await #expect(throws: RedisClusterError.self) { try await store.checkServer(allowEviction: false) }
        #expect(error?.description.contains("cluster mode") == true)
        #expect(error?.description.contains("127.0.0.1:\(node.port)") == true)
    }

    /// Benchmarks settle Redis's persistence before a timed phase. The oracle is the AOF on disk: the increment file
    /// that the manifest names grows with writes, and a rewrite empties it.
    @Test func persistenceStateFollowsTheAOFOnDisk() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-aof-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // No automatic rewrite, and a slow one when asked for (a delay per key saved), so it is seen running.
        let server = try await RedisServerProcess(arguments: ["--dir", directory.path, "--appendonly", "yes", "--auto-aof-rewrite-percentage", "0",
                                                              "--rdb-key-save-delay", "200000"])
        defer { server.stop() }
        let store = try QueueStore(url: server.url, label: "aof", prefix: "wq")
        /// The size of the increment files the manifest lists now (`file <name> seq <n> type i`).
        func incrementBytes() throws -> Int {
            let folder = directory.appendingPathComponent("appendonlydir")
            let manifest = try String(contentsOf: folder.appendingPathComponent("appendonly.aof.manifest"), encoding: .utf8)
            var bytes = 0
            for line in manifest.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard words.count >= 2, words.last == "i" else { continue }
                let attributes = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(String(words[1])).path)
                bytes += (attributes[.size] as? Int) ?? 0
            }
            return bytes
        }

        try await store.enqueue((0..<3).map { job("low", $0) })
        #expect(try incrementBytes() > 0)
        var state = try await store.persistenceState()
        #expect(state.aofHasGrown && !state.isBusy)

        #expect(try await store.rewriteAOF() == nil)
        #expect(try await store.persistenceState().isBusy)
        try await waitUntil("the AOF rewrite to end", timeout: .seconds(30)) { try await !store.persistenceState().isBusy }
        #expect(try incrementBytes() == 0)
        #expect(try await !store.persistenceState().aofHasGrown)

        try await store.enqueue([job("low", 3)])
        #expect(try incrementBytes() > 0)
        #expect(try await store.persistenceState().aofHasGrown)

        // A user without BGREWRITEAOF (as the README's ACL rule has it) gets Redis's refusal back, and nothing starts.
        try await store.connection.send("ACL", "SETUSER", "bench", "on", ">secret", "~*", "&*", "+@all", "-bgrewriteaof")
        let limited = try QueueStore(url: "redis://bench:secret@127.0.0.1:\(server.port)/0", label: "limited", prefix: "wq")
        #expect(try await limited.rewriteAOF()?.hasPrefix("NOPERM") == true)
        state = try await store.persistenceState()
        #expect(!state.isBusy && state.aofHasGrown)

        // Without an AOF there is nothing to grow.
        try await store.connection.send("CONFIG", "SET", "appendonly", "no")
        #expect(try await !store.persistenceState().aofHasGrown)
    }
}
