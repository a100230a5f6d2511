import RedisClient

extension QueueStore {
    /// The hash of a component's running totals, `wq:{<scope>}:stats`.
    public func countersKey(_ scope: String) -> String { "\(prefix):{\(scope)}:stats" }

    /// Adds to a component's running totals (one round trip); zero counts are left out.
    public func addCounts(_ counts: [(name: String, value: Int)], scope: String) async throws {
        let nonZero = counts.filter { $0.value != 0 }
        if nonZero.isEmpty { return }
        let key = countersKey(scope)
        _ = try await connection.pipeline(nonZero.map { .command(RedisCommand("HINCRBY", key, $0.name, String($0.value))) })
    }

    /// A component's running totals.
    public func counts(scope: String) async throws -> [String: Int] {
        try await connection.send(RedisCommand("HGETALL", countersKey(scope))).integerFields
    }
}
