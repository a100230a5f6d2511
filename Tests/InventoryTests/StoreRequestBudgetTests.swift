import Foundation
import Logging
import QueueCore
import StoreSync
import Synchronization
import TestSupport
import Testing
import WooCommerceAPI

/// The store's REST budget, shared through a real Redis by what stands for several processes (a budget each, on a
/// connection each).
@Suite(.serialized) struct StoreRequestBudgetTests {
    func budgets(_ count: Int, concurrent: Int, perSecond: Int) throws -> (budgets: [StoreRequestBudget], cleanup: QueueStore) {
        let configuration = try TestEnvironment.configuration(prefix: TestEnvironment.uniquePrefix("budget"))
        var settings = WooCommerceSettings(url: "http://127.0.0.1:9", consumerKey: "ck", consumerSecret: "cs", authentication: .auto,
                                           perPage: 100, timeout: .seconds(5), reconcileInterval: .zero)
        settings.maxConcurrentRequests = concurrent
        settings.maxRequestsPerSecond = perSecond
        let made = try (0..<count).map { index in
            try #require(StoreRequestBudget(settings: settings, store: try TestEnvironment.store(configuration, label: "budget-\(index)")))
        }
        return (made, try TestEnvironment.store(configuration))
    }

    @Test func concurrentRequestsStayWithinTheBudgetAcrossProcesses() async throws {
        let (budgets, cleanup) = try budgets(3, concurrent: 2, perSecond: 0)
        let record = InFlight()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<18 {
                group.addTask {
                    try await budgets[index % 3].withPermit {
                        let now = record.count.add(1, ordering: .relaxed).newValue
                        record.peak.max(now, ordering: .relaxed)
                        try await Task.sleep(for: .milliseconds(30))
                        record.count.subtract(1, ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(record.peak.load(ordering: .relaxed) == 2, "never more than 2 requests at once, and 2 are used")
        try await cleanup.deleteAllKeys()
    }

    @Test func requestsPerSecondHoldInEveryWindow() async throws {
        let (budgets, cleanup) = try budgets(2, concurrent: 0, perSecond: 20)
        let clock = ContinuousClock(), start = clock.now
        let times = Times()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    try await budgets[index % 2].withPermit {
                        let (seconds, attoseconds) = start.duration(to: clock.now).components
                        times.list.withLock { $0.append(Double(seconds) + Double(attoseconds) / 1e18) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let sorted = times.list.withLock { $0 }.sorted()
        var worst = 0.0
        for i in sorted.indices { for j in i..<sorted.count { worst = max(worst, Double(j - i + 1) - (20 * (sorted[j] - sorted[i]) + 1)) } }
        let rate = Double(sorted.count - 1) / (sorted.last! - sorted[0])
        print("store budget 20/s: \(String(format: "%.1f", rate)) requests/s; worst window \(String(format: "%.3f", worst)) over the bound")
        #expect(worst <= 1e-9, "at most 20 × t + 1 in any window")
        #expect(rate >= 16, "at least 80 % of the budget is used")
        try await cleanup.deleteAllKeys()
    }

    @Test func everyStoreRequestWaitsForTheBudget() async throws {
        let store = try await FakeStore.start()
        defer { store.stop() }
        let counted = CountingBudget()
        var logger = Logger(label: "test.woocommerce")
        logger.logLevel = .error
        let client = try WooCommerceClient(settings: .init(url: store.url, consumerKey: FakeStore.consumerKey, consumerSecret: FakeStore.consumerSecret,
                                                           authentication: .auto, perPage: 2, timeout: .seconds(5), reconcileInterval: .zero),
                                           budget: counted, logger: logger, attempts: 2, firstDelay: .milliseconds(10))
        _ = try await client.products(page: 1)
        _ = try await client.products(page: 2)
        #expect(counted.permits.load(ordering: .relaxed) == 2)
    }
}

/// Counts the permits a client asks for; lets each request through.
final class CountingBudget: RequestBudget {
    let permits = Atomic<Int>(0)

    func withPermit<T: Sendable>(_ request: @Sendable () async throws -> T) async throws -> T {
        permits.add(1, ordering: .relaxed)
        return try await request()
    }
}

final class InFlight: Sendable {
    let count = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
}

final class Times: Sendable {
    let list = Mutex<[Double]>([])
}
