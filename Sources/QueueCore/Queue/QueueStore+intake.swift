import RedisClient

extension QueueStore {
    public var intakeKeys: IntakeKeys { IntakeKeys(prefix: prefix) }

    /// At most this many senders' refusals are kept: unsigned requests name the sender, and must not grow the hash
    /// without bound (a sync of the store clears a sender's count when it sets its secret).
    public static let refusedSendersKept = 1000

    /// What the intake saw since it last wrote: per topic the time of the newest delivery, per sender the
    /// deliveries refused for their signature. One round trip; a time only moves forward (several intakes write).
    public func recordIntakeActivity(lastDelivery: [String: Int64], refused: [String: Int]) async throws {
        if lastDelivery.isEmpty && refused.isEmpty { return }
        var requests: [RedisRequest] = lastDelivery.sorted { $0.key < $1.key }.map { topic, millis in
            .script(QueueScripts.hashMax, keys: [intakeKeys.lastDelivery], arguments: [Array(topic.utf8), Array(String(millis).utf8)])
        }
        requests += refused.sorted { $0.key < $1.key }.map { sender, count in
            .script(QueueScripts.boundedCount, keys: [intakeKeys.refusedSignatures],
                    arguments: [Array(sender.utf8), Array(String(count).utf8), Array(String(Self.refusedSendersKept).utf8)])
        }
        for reply in try await connection.pipeline(requests) { _ = try reply.checked() }
    }

    /// Per topic the ms time of the last delivery received, and per sender the signatures refused.
    public func intakeActivity() async throws -> (lastDelivery: [String: Int64], refused: [String: Int]) {
        let replies = try await connection.pipeline([
            .command(RedisCommand("HGETALL", intakeKeys.lastDelivery)),
            .command(RedisCommand("HGETALL", intakeKeys.refusedSignatures)),
        ])
        let last = try replies[0].checked().integerFields.mapValues { Int64($0) }
        return (last, try replies[1].checked().integerFields)
    }

    /// Forgets the refused signatures of these senders (once they were given the secret again).
    public func clearRefusedSignatures(senders: [String]) async throws {
        if senders.isEmpty { return }
        try await connection.send(RedisCommand("HDEL", arguments: [intakeKeys.refusedSignatures] + senders))
    }
}
