import RedisClient

extension QueueStore {
    public var deliveryKeys: DeliveryKeys { DeliveryKeys(prefix: prefix) }

    /// One delivery's claim: the key that identifies the delivery, and a token unique to this acceptance of it.
    public struct DeliveryClaim: Sendable {
        public var key: String
        public var token: String

        public init(key: String, token: String) {
            self.key = key
            self.token = token
        }
    }

    /// Records deliveries as seen for `retention`; for each, true when it is new (in one round trip).
    ///
    /// WooCommerce may deliver the same event twice; the second is acknowledged and dropped. A claim holds its
    /// token, so claiming again with the same token still says new: a claim whose reply was lost (and whose
    /// delivery went to the spool) is recognised as its own when the spool is replayed.
    public func claimDeliveries(_ claims: [DeliveryClaim], retention: Duration) async throws -> [Bool] {
        if claims.isEmpty { return [] }
        let milliseconds = String(retention.milliseconds)
        let replies = try await connection.pipeline(claims.map {
            .command(RedisCommand("SET", deliveryKeys.seen($0.key), $0.token, "NX", "PX", milliseconds, "GET"))
        })
        return try zip(claims, replies).map { claim, reply in
            let previous = try reply.checked()
            return previous.isNull || previous.string == claim.token
        }
    }
}
