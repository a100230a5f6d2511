import RedisClient

extension QueueStore {
    public var deliveryKeys: DeliveryKeys { DeliveryKeys(prefix: prefix) }

    /// Records delivery ids as seen for `retention`; for each, true when it was not seen before (in one round
    /// trip). WooCommerce may deliver the same event twice; the second is acknowledged and dropped.
    public func claimDeliveries(_ ids: [String], retention: Duration) async throws -> [Bool] {
        if ids.isEmpty { return [] }
        let milliseconds = String(retention.milliseconds)
        let replies = try await connection.pipeline(ids.map {
            .command(RedisCommand("SET", deliveryKeys.seen($0), "1", "NX", "PX", milliseconds))
        })
        return try replies.map { try $0.checked() == .status("OK") }
    }
}
