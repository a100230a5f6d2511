import RedisClient

extension QueueStore {
    /// The hash of every alert condition's state: `<condition>` → `firing` or `resolved` as last evaluated,
    /// `<condition>|announced` → the state last announced, and `<condition>|<state>|at` → when (ms).
    public var alertsKey: String { "\(prefix):{alerts}:state" }

    /// Records each condition as evaluated now, and says, per condition, whether this caller must announce it.
    /// True only for the one caller, among all processes, that finds it different from what was last announced,
    /// and only if the same state was not announced within `interval` (a flapping condition stays quiet, and is
    /// announced once the interval has passed if it still differs). Atomic per condition (one script each, all
    /// in one round trip), so several `serve` processes announce each change once.
    public func claimAlertChanges(_ conditions: [(id: String, firing: Bool)], now: Int64, interval: Duration) async throws -> [Bool] {
        let requests: [RedisRequest] = conditions.map { condition in
            .script(Self.alertTransition, keys: [alertsKey], arguments: [
                Array(condition.id.utf8), Array((condition.firing ? "firing" : "resolved").utf8), Array(String(now).utf8),
                Array(String(interval.milliseconds).utf8),
            ])
        }
        return try await connection.pipeline(requests).map { try $0.checked().int == 1 }
    }

    /// Undoes a claimed change whose announcement could not be sent, so a later check tries again.
    public func releaseAlertChange(_ condition: String, firing: Bool) async throws {
        let state = firing ? "firing" : "resolved"
        _ = try await connection.pipeline([
            .command(RedisCommand("HSET", alertsKey, "\(condition)|announced", firing ? "resolved" : "firing")),
            .command(RedisCommand("HDEL", alertsKey, "\(condition)|\(state)|at")),
        ])
    }

    /// The conditions that held at their latest evaluation, announced or not.
    public func firingAlerts() async throws -> [String] {
        let fields = try await connection.send(RedisCommand("HGETALL", alertsKey)).array ?? []
        var firing: [String] = []
        var index = 0
        while index + 1 < fields.count {
            if let name = fields[index].string, !name.contains("|"), fields[index + 1].string == "firing" { firing.append(name) }
            index += 2
        }
        return firing.sorted()
    }

    /// KEYS[1]: the alerts hash. ARGV: condition, new state, now ms, interval ms. Returns 1 when the caller
    /// must announce the new state, else 0. A condition never stored counts as resolved.
    static let alertTransition = RedisScript(name: "alert-transition", source: """
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        local announced = redis.call('HGET', KEYS[1], ARGV[1] .. '|announced') or 'resolved'
        if announced == ARGV[2] then return 0 end
        local at = ARGV[1] .. '|' .. ARGV[2] .. '|at'
        local last = redis.call('HGET', KEYS[1], at)
        if last and tonumber(ARGV[3]) - tonumber(last) < tonumber(ARGV[4]) then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1] .. '|announced', ARGV[2], at, ARGV[3])
        return 1
        """)
}
