import Foundation
public import QueueCore
public import WooCommerceAPI

/// The store's REST budget (`woocommerce.maxConcurrentRequests`, `maxRequestsPerSecond`), kept in Redis so that
/// every process and command that calls the store shares it: stock_sync jobs, bootstrap's pages, reconcile, the
/// webhook check.
///
/// A request takes a slot and a token before it is sent, and gives the slot back when answered. A slot is a lease
/// as long as the request's timeout and a little more, so a process killed mid-request frees it by then. When
/// the budget is spent it waits: for a token, exactly as long as Redis says; for a slot, in steps of 25 ms.
public final class StoreRequestBudget: RequestBudget {
    /// The scope the budget is kept under (``QueueStore/flowBase(scope:)``).
    public static let scope = "store"
    static let gate = "rest"
    static let slotWait: Duration = .milliseconds(25)

    let store: QueueStore
    let concurrency: Int?
    let rate: FlowLimits.Rate?
    let leaseMillis: Int64

    /// `nil` when the settings set no limit.
    public init?(settings: WooCommerceSettings, store: QueueStore) {
        guard settings.maxConcurrentRequests > 0 || settings.maxRequestsPerSecond > 0 else { return nil }
        self.store = store
        concurrency = settings.maxConcurrentRequests > 0 ? settings.maxConcurrentRequests : nil
        rate = settings.maxRequestsPerSecond > 0 ? FlowLimits.Rate(count: settings.maxRequestsPerSecond, period: .seconds(1)) : nil
        leaseMillis = settings.timeout.milliseconds + 5000
    }

    public func withPermit<T: Sendable>(_ request: @Sendable () async throws -> T) async throws -> T {
        let member = UUID().uuidString
        while true {
            // Redis away: its error (an outage to the job that called, which then waits without losing an attempt).
            let answer = try await store.acquire(scope: Self.scope, gate: Self.gate, member: member, concurrency: concurrency, rate: rate,
                                                 leaseMillis: leaseMillis)
            if answer.granted { break }
            try await Task.sleep(for: answer.waitMillis.map { .milliseconds(max(1, $0)) } ?? Self.slotWait)
        }
        let result: Result<T, any Error>
        do { result = .success(try await request()) } catch { result = .failure(error) }
        if concurrency != nil {
            // If Redis does not take it back, the slot's lease runs out.
            try? await store.releaseSlot(scope: Self.scope, gate: Self.gate, member: member)
        }
        return try result.get()
    }
}
