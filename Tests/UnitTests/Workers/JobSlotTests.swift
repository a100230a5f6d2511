import Synchronization
import TestSupport
import Testing
@testable import Workers

/// A worker's run of quick jobs in one task (`JobSlot.runSequence`), watched by a watchdog as single calls are.
@Suite struct JobSlotTests {
    struct Oops: Error {}

    /// The process's watchdog, polling the slot as `WorkerProcess` does, until the body ends.
    private func watched<T: Sendable>(_ slot: JobSlot, interrupt: @escaping @Sendable () -> Bool = { false },
                                      _ body: () async throws -> T) async rethrows -> T {
        let watchdog = Task {
            while !Task.isCancelled {
                slot.check(now: .now, interrupt: interrupt())
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        defer { watchdog.cancel() }
        return try await body()
    }

    @Test func runsEveryCallOnceInOrder() async {
        let slot = JobSlot()
        let order = Mutex<[Int]>([])
        let calls = await watched(slot) {
            await slot.runSequence(timeouts: Array(repeating: .seconds(5), count: 5), keepGoing: { true }) { index in
                order.withLock { $0.append(index) }
            }
        }
        #expect(order.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(calls.count == 5)
        #expect(calls.allSatisfy { if case .succeeded = $0.outcome { true } else { false } })
    }

    @Test func aFailureEndsTheRunAfterIt() async {
        let slot = JobSlot()
        let started = Mutex<[Int]>([])
        let calls = await watched(slot) {
            await slot.runSequence(timeouts: Array(repeating: .seconds(5), count: 5), keepGoing: { true }) { index in
                started.withLock { $0.append(index) }
                if index == 2 { throw Oops() }
            }
        }
        #expect(calls.count == 3)
        guard case .failed(let error)? = calls.last?.outcome else { Issue.record("the last call is \(String(describing: calls.last))"); return }
        #expect(error is Oops)
        #expect(started.withLock { $0 } == [0, 1, 2])
    }

    /// A call over its timeout frees the worker at once, even though the handler ignores cancellation, and the
    /// calls after it do not run in the abandoned task.
    @Test func aCallOverItsTimeoutEndsTheRunThereAndNothingRunsAfterIt() async throws {
        let slot = JobSlot()
        let started = Mutex<[Int]>([])
        let stuck = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let returned = Atomic<Bool>(false)
        let begun = ContinuousClock.now
        let calls = await watched(slot) {
            await slot.runSequence(timeouts: [.seconds(5), .milliseconds(100), .seconds(5)], keepGoing: { true }) { index in
                started.withLock { $0.append(index) }
                guard index == 1 else { return }
                // Ignores cancellation: waits until the test lets it go.
                await withCheckedContinuation { continuation in stuck.withLock { $0 = continuation } }
                returned.store(true, ordering: .relaxed)
            }
        }
        #expect(begun.duration(to: .now) < .seconds(3))
        #expect(calls.count == 2)
        guard case .timedOut(let timeout)? = calls.last?.outcome else { Issue.record("the last call is \(String(describing: calls.last))"); return }
        #expect(timeout == .milliseconds(100))
        #expect(calls[1].duration >= .milliseconds(100))
        // Let the abandoned handler return: its task must stop there, not start call 2.
        stuck.withLock { $0 }?.resume()
        try await waitUntil("the abandoned call to return", timeout: .seconds(5)) { returned.load(ordering: .relaxed) }
        let deadline = ContinuousClock.now + .milliseconds(200)
        while ContinuousClock.now < deadline, started.withLock({ $0.count }) == 2 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(started.withLock { $0 } == [0, 1])
    }

    @Test func aShutdownPastGraceInterruptsTheRunningCall() async {
        let slot = JobSlot()
        let interrupt = Atomic<Bool>(false)
        let calls = await watched(slot, interrupt: { interrupt.load(ordering: .relaxed) }) {
            await slot.runSequence(timeouts: [.seconds(30), .seconds(30)], keepGoing: { true }) { index in
                guard index == 1 else { return }
                interrupt.store(true, ordering: .relaxed)
                try? await Task.sleep(for: .seconds(30))
            }
        }
        #expect(calls.count == 2)
        guard case .interrupted? = calls.last?.outcome else { Issue.record("the last call is \(String(describing: calls.last))"); return }
    }

    @Test func keepGoingIsAskedBeforeEachCall() async {
        let slot = JobSlot()
        let made = Atomic<Int>(0)
        let calls = await watched(slot) {
            await slot.runSequence(timeouts: Array(repeating: .seconds(5), count: 5), keepGoing: { made.load(ordering: .relaxed) < 2 }) { _ in
                made.add(1, ordering: .relaxed)
            }
        }
        #expect(calls.count == 2)
        #expect(made.load(ordering: .relaxed) == 2)
    }
}
