import AppConfiguration
import Foundation
import QueueCore
import RedisClient
import TestSupport
import Testing

/// The flow-control scripts against a real Redis, call by call: who gets a freed slot, how throttled jobs are
/// spaced. (The behaviour across processes is in WooqueueCLITests' FlowControlTests.)
@Suite struct FlowScriptTests {
    func held(_ store: QueueStore, _ count: Int, type: String = "erp") async throws -> [[UInt8]] {
        try await store.enqueue((0..<count).map { JobEnvelope(type: type, queue: "low", payload: Array(#"{"n":\#($0)}"#.utf8), maxAttempts: 1) })
        return try await store.fetch(queue: "low", holder: "p1.0", max: count, workers: 1)
    }

    func admit(_ store: QueueStore, _ gate: FlowGate, _ job: [UInt8]) async throws -> FlowAdmission {
        try await store.admit(queue: "low", holder: "p1.0", gate: gate, group: [job], leaseMillis: 15_000, probeLeaseMillis: 15_000)
    }

    /// A freed slot goes to the oldest waiting job, even when a newer call asks first in the same round trip.
    @Test func aFreedSlotGoesToTheOldestWaitingJob() async throws {
        try await withFreshQueue("flow-fifo") { _, store in
            let jobs = try await held(store, 3)
            let gate = FlowGate(type: "erp", limits: FlowLimits(concurrency: 1), envelope: JobEnvelope(type: "erp", queue: "low", maxAttempts: 1))
            guard case .admitted(let first, _) = try await admit(store, gate, jobs[0]) else { Issue.record("the first call takes the slot"); return }
            #expect(try await admit(store, gate, jobs[1]) == .parked(reason: "waiting", until: nil))
            // The first call ends, and the same round trip asks for a newer call (the worker's next job).
            let (_, newer) = try await store.release(.init(gate: gate, member: first, outcome: .ok), thenAdmit: gate, queue: "low", holder: "p1.0",
                                                     group: [jobs[2]], leaseMillis: 15_000, probeLeaseMillis: 15_000)
            #expect(newer == .parked(reason: "waiting", until: nil), "the slot is reserved for the job that waited")
            let woken = try await store.fetch(queue: "low", holder: "p1.0", max: 10, workers: 1)
            #expect(woken.compactMap(JobEnvelope.id(of:)) == [JobEnvelope.id(of: jobs[1])], "the oldest waiting job is next in line")
            guard case .admitted = try await admit(store, gate, woken[0]) else { Issue.record("the woken job takes its reserved slot"); return }
        }
    }

    /// With a burst of 1, throttled jobs come back one interval plus the jitter guard apart, and each is admitted
    /// when it comes back on time.
    @Test func throttledJobsComeBackSpacedAsTheyCanStart() async throws {
        try await withFreshQueue("flow-rate") { _, store in
            let jobs = try await held(store, 4)
            let rate = FlowLimits.Rate(count: 10, period: .seconds(1))  // 100 ms apart, 5 ms guard
            let gate = FlowGate(type: "erp", limits: FlowLimits(rate: rate), envelope: JobEnvelope(type: "erp", queue: "low", maxAttempts: 1))
            guard case .admitted = try await admit(store, gate, jobs[0]) else { Issue.record("a full bucket admits"); return }
            var dues: [Int64] = []
            for job in jobs.dropFirst() {
                guard case .parked("throttled", let until?) = try await admit(store, gate, job) else { Issue.record("no token: throttled"); return }
                dues.append(until)
            }
            #expect(zip(dues, dues.dropFirst()).allSatisfy { $1 - $0 >= 105 }, "spaced by the interval and the guard: \(dues)")
            // Due: promoted by the sweep, fetched and admitted, each in turn. One that comes back a little early
            // (the call before it started late) waits for the very next token, not behind the others.
            func comeBack(at due: Int64) async throws -> FlowAdmission? {
                let wait = due - WallClock.nowMillis() + 5
                if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
                try await store.sweepFlow(queues: ["low"], limits: [:], reserveMillis: 15_000)
                guard let job = try await store.fetch(queue: "low", holder: "p1.0", max: 1, workers: 1).first else { return nil }
                return try await admit(store, gate, job)
            }
            for (index, due) in dues.enumerated() {
                var admission = try await comeBack(at: due)
                if case .parked("throttled", let until?)? = admission {
                    // For the next token: ahead of the job parked after it, or within a spacing for the last one.
                    let bound = index + 1 < dues.count ? dues[index + 1] - 1 : due + 105
                    #expect(until <= bound, "re-parked for the next token: \(until), dues \(dues)")
                    admission = try await comeBack(at: until)
                }
                guard case .admitted? = admission else {
                    Issue.record("a throttled job is admitted at its turn: \(String(describing: admission)), dues \(dues)")
                    return
                }
            }
        }
    }
}
