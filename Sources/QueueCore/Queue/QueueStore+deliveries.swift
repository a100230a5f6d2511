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

    /// What a claim found.
    public enum ClaimState: Sendable, Equatable {
        /// Not seen before, or claimed by this same acceptance (its token): its jobs are to be written.
        case new
        /// This acceptance's jobs are written already, and ``confirmDeliveries(_:retention:always:)`` marked them so.
        case stored
        /// Another acceptance of the same delivery claimed it: a repeat, dropped.
        case repeated
    }

    /// Records deliveries as seen for `retention`, and says for each what was there (in one round trip).
    ///
    /// WooCommerce may deliver the same event twice; the second is acknowledged and dropped. A claim holds its
    /// token, so claiming again with the same token still says new: a claim whose reply was lost (and whose
    /// delivery went to the spool) is recognised as its own when the spool is replayed.
    public func claimDeliveries(_ claims: [DeliveryClaim], retention: Duration) async throws -> [ClaimState] {
        if claims.isEmpty { return [] }
        let milliseconds = String(retention.milliseconds)
        let replies = try await connection.pipeline(claims.map {
            .command(RedisCommand("SET", deliveryKeys.seen($0.key), $0.token, "NX", "PX", milliseconds, "GET"))
        })
        return try zip(claims, replies).map { claim, reply in
            let previous = try reply.checked()
            if previous.isNull || previous.string == claim.token { return .new }
            return previous.string == Self.storedMark(claim) ? .stored : .repeated
        }
    }

    /// Marks the claims' jobs as written, and with ``replicationWait`` waits for the replicas, in one round trip.
    /// Replication keeps order, so a replica that has a mark has the jobs written before it; a spooled delivery
    /// whose mark survived is not written again on replay. Throws ``ReplicationShortfall`` when fewer replicas
    /// confirmed in time.
    ///
    /// The intake marks only with ``replicationWait`` (its spool covers the rest); a sweep marks always
    /// (`always`), because it claims for a short lease first and only the mark keeps the claim for `retention`.
    public func confirmDeliveries(_ claims: [DeliveryClaim], retention: Duration, always: Bool = false) async throws {
        let wait = replicationWait
        guard wait != nil || always, !claims.isEmpty || wait != nil else { return }
        let milliseconds = String(retention.milliseconds)
        var requests: [RedisRequest] = claims.map {
            .command(RedisCommand("SET", deliveryKeys.seen($0.key), Self.storedMark($0), "PX", milliseconds))
        }
        if let wait { requests.append(wait.command) }
        let replies = try await connection.pipeline(requests)
        for reply in replies.prefix(claims.count) { _ = try reply.checked() }
        if let wait, let shortfall = try wait.check(replies.last, operation: "delivery") { throw shortfall }
    }

    private static func storedMark(_ claim: DeliveryClaim) -> String { claim.token + "+stored" }
}
