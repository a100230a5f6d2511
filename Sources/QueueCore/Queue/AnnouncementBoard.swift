import RedisClient

/// A record, shared by every process, of conditions as last evaluated and of the state last announced for each,
/// so that of many processes evaluating the same conditions exactly one announces each change.
///
/// One hash (`wq:{<name>}:state`): `<condition>` → `firing` or `resolved` as last evaluated,
/// `<condition>|announced` → the state last announced, and `<condition>|<state>|at` → when (ms).
public struct AnnouncementBoard: Sendable {
    let connection: RedisConnection
    /// The hash's key.
    public let key: String

    /// Records each condition as evaluated now, and says, per condition, whether this caller must announce it.
    /// True only for the one caller, among all processes, that finds it different from what was last announced,
    /// and only if the same state was not announced within `interval` (a flapping condition stays quiet, and is
    /// announced once the interval has passed if it still differs). Atomic per condition (one script each, all
    /// in one round trip).
    public func claimChanges(_ conditions: [(id: String, holds: Bool)], now: Int64, interval: Duration) async throws -> [Bool] {
        let requests: [RedisRequest] = conditions.map { condition in
            .script(Self.transition, keys: [key], arguments: [
                Array(condition.id.utf8), Array(Self.state(condition.holds).utf8), Array(String(now).utf8),
                Array(String(interval.milliseconds).utf8),
            ])
        }
        return try await connection.pipeline(requests).map { try $0.checked().int == 1 }
    }

    /// Undoes a claimed change whose announcement could not be sent, so a later evaluation tries again.
    public func release(_ condition: String, holds: Bool) async throws {
        _ = try await connection.pipeline([
            .command(RedisCommand("HSET", key, "\(condition)|announced", Self.state(!holds))),
            .command(RedisCommand("HDEL", key, "\(condition)|\(Self.state(holds))|at")),
        ])
    }

    /// The conditions that held at their latest evaluation, announced or not, sorted.
    public func holding() async throws -> [String] {
        let fields = try await connection.send(RedisCommand("HGETALL", key)).array ?? []
        var holding: [String] = []
        var index = 0
        while index + 1 < fields.count {
            if let name = fields[index].string, !name.contains("|"), fields[index + 1].string == Self.state(true) { holding.append(name) }
            index += 2
        }
        return holding.sorted()
    }

    /// The stored name of a state (the words of the layout since the first version).
    private static func state(_ holds: Bool) -> String { holds ? "firing" : "resolved" }

    /// KEYS[1]: the board's hash. ARGV: condition, new state, now ms, interval ms. Returns 1 when the caller
    /// must announce the new state, else 0. A condition never stored counts as not holding.
    static let transition = RedisScript(name: "announcement-transition", source: """
        -- Record the state as evaluated now.
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        -- Nothing to announce when it is the state last announced.
        local announced = redis.call('HGET', KEYS[1], ARGV[1] .. '|announced') or 'resolved'
        if announced == ARGV[2] then return 0 end
        -- Nor when the same state was announced less than an interval ago (a flapping condition).
        local at = ARGV[1] .. '|' .. ARGV[2] .. '|at'
        local last = redis.call('HGET', KEYS[1], at)
        if last and tonumber(ARGV[3]) - tonumber(last) < tonumber(ARGV[4]) then return 0 end
        -- This caller announces it: record that, and when.
        redis.call('HSET', KEYS[1], ARGV[1] .. '|announced', ARGV[2], at, ARGV[3])
        return 1
        """)
}

extension QueueStore {
    /// The board named `name` (`wq:{<name>}:state`).
    public func announcementBoard(_ name: String) -> AnnouncementBoard {
        AnnouncementBoard(connection: connection, key: "\(prefix):{\(name)}:state")
    }
}
