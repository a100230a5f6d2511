import RedisClient

extension QueueStore {
    /// Every command wooqueue sends to Redis, from Swift or from its Lua scripts, in lower case as an ACL rule names
    /// them. `AUTH` needs no permission; `ROLE` is sent when the primary is found through Sentinel (what wooqueue
    /// sends the Sentinels is theirs to allow). The unit tests check this list against the sources and the README.
    public static let commandsUsed: [String] = [
        "ping", "info", "role", "select", "time",
        "get", "set", "del", "exists", "expire", "pexpire", "scan",
        "hget", "hmget", "hexists", "hset", "hdel", "hgetall", "hincrby", "hlen",
        "lpush", "rpush", "lpop", "lmpop", "lmove", "blmove", "llen", "lindex", "lset", "lrange", "lrem", "ltrim",
        "sadd", "srem", "smembers",
        "zadd", "zcard", "zcount", "zrem", "zrange", "zrangebyscore", "zremrangebyscore",
        "script|load", "evalsha", "wait",
    ]

    /// The least a Redis ACL user needs to run wooqueue with the key prefix `prefix`: its own keys, no channels, and
    /// exactly ``commandsUsed``. For `ACL SETUSER <name> on ><password> <rule>`, or a user line in `users.acl`.
    public static func aclRule(prefix: String) -> String {
        (["resetkeys", "~\(prefix):*", "resetchannels", "-@all"] + commandsUsed.map { "+\($0)" }).joined(separator: " ")
    }

    /// Checks, before a process starts work, what the server and the Redis user must allow. In one round trip of
    /// harmless probes on keys of their own (removed at the end), it runs every command of ``commandsUsed`` (but
    /// `SELECT`, which the connection already ran when the database is not 0), and reads `INFO memory cluster`,
    /// which managed Redis services allow where they refuse `CONFIG GET`.
    ///
    /// Throws ``RedisClusterError`` for a Redis Cluster, ``RedisAccessError`` naming each command the user may not run (or the keys it may not touch), and,
    /// unless `allowEviction`, ``EvictionPolicyError`` when Redis may evict keys. Returns the eviction policy.
    @discardableResult
    public func checkServer(allowEviction: Bool) async throws -> String {
        let base = "\(prefix):{server-check}:"
        let (text, hash, list, moved, set, sorted) = (base + "string", base + "hash", base + "list", base + "moved", base + "set", base + "sorted")
        // The SHA-1 of `return 1`, the script the probe loads and runs.
        let probeScript = "return 1", probeSHA = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        let probes: [RedisCommand] = [
            RedisCommand("PING"),
            RedisCommand("ROLE"),
            RedisCommand("TIME"),
            RedisCommand("INFO", "memory", "cluster"),
            RedisCommand("SET", text, "1", "PX", "60000"),
            RedisCommand("GET", text),
            RedisCommand("EXISTS", text),
            RedisCommand("EXPIRE", text, "60"),
            RedisCommand("PEXPIRE", text, "60000"),
            RedisCommand("SCAN", "0", "MATCH", base + "*", "COUNT", "10"),
            RedisCommand("HSET", hash, "field", "1"),
            RedisCommand("HGET", hash, "field"),
            RedisCommand("HMGET", hash, "field", "other"),
            RedisCommand("HEXISTS", hash, "field"),
            RedisCommand("HINCRBY", hash, "field", "1"),
            RedisCommand("HGETALL", hash),
            RedisCommand("HLEN", hash),
            RedisCommand("HDEL", hash, "field"),
            RedisCommand("LPUSH", list, "a", "b"),
            RedisCommand("RPUSH", list, "c", "d"),
            // Not blocking: the list holds elements. A short timeout all the same, should it not.
            RedisCommand("BLMOVE", list, moved, "RIGHT", "LEFT", "0.01"),
            RedisCommand("LLEN", list),
            RedisCommand("LINDEX", list, "0"),
            RedisCommand("LRANGE", list, "0", "-1"),
            RedisCommand("LREM", list, "1", "a"),
            RedisCommand("LTRIM", list, "0", "-1"),
            RedisCommand("LPOP", list),
            RedisCommand("LMPOP", "1", list, "RIGHT", "COUNT", "1"),
            RedisCommand("RPUSH", list, "e", "f"),
            RedisCommand("LMOVE", list, moved, "RIGHT", "LEFT"),
            RedisCommand("LSET", moved, "0", "g"),
            RedisCommand("SADD", set, "a"),
            RedisCommand("SMEMBERS", set),
            RedisCommand("SREM", set, "a"),
            RedisCommand("ZADD", sorted, "1", "a"),
            RedisCommand("ZCARD", sorted),
            RedisCommand("ZCOUNT", sorted, "-inf", "+inf"),
            RedisCommand("ZRANGE", sorted, "0", "0", "WITHSCORES"),
            RedisCommand("ZRANGEBYSCORE", sorted, "-inf", "+inf"),
            RedisCommand("ZREM", sorted, "a"),
            RedisCommand("ZREMRANGEBYSCORE", sorted, "-inf", "0"),
            RedisCommand("SCRIPT", "LOAD", probeScript),
            RedisCommand("EVALSHA", probeSHA, "0"),
            // redis.waitReplicas: waiting for none returns at once.
            RedisCommand("WAIT", "0", "1"),
            RedisCommand("DEL", text, hash, list, moved, set, sorted),
        ]
        let replies = try await connection.pipeline(probes.map { .command($0) })
        let info = zip(probes, replies).first { $0.0.name == "INFO" }?.1.string ?? ""
        // First: in a cluster the probes fail with MOVED or CLUSTERDOWN, which would hide the reason.
        if RedisInfo.field("cluster_enabled", in: info) == "1" {
            throw RedisClusterError(endpoint: connection.configuration.endpointDescription)
        }
        var refused: [(command: String, reply: String)] = []
        var keysRefused = false
        for (probe, reply) in zip(probes, replies) {
            guard case .error(let message) = reply else { continue }
            if message.hasPrefix("NOPERM"), message.contains("keys") {
                keysRefused = true
            } else {
                refused.append((probe.name == "SCRIPT" ? "SCRIPT LOAD" : probe.name, message))
            }
        }
        if !refused.isEmpty || keysRefused {
            throw RedisAccessError(refused: refused, keysRefused: keysRefused, prefix: prefix, endpoint: connection.configuration.endpointDescription)
        }
        let policy = RedisInfo.field("maxmemory_policy", in: info) ?? ""
        if !allowEviction, policy != "noeviction" {
            throw EvictionPolicyError(policy: policy.isEmpty ? "unknown (INFO memory has no maxmemory_policy)" : policy)
        }
        return policy
    }

    /// The CPU time the Redis server has used since it started, in seconds (`INFO cpu`: user and system, all its
    /// threads and clients), for benchmarks that report what a job costs Redis.
    public func serverCPUSeconds() async throws -> Double {
        let info = try await connection.send(RedisCommand("INFO", "cpu")).string ?? ""
        return ["used_cpu_sys", "used_cpu_user"].reduce(0.0) { $0 + (RedisInfo.field($1, in: info).flatMap(Double.init) ?? 0) }
    }

    /// Redis's persistence work as `INFO persistence` shows it: benchmarks settle it before they time anything.
    public struct PersistenceState: Sendable {
        /// A snapshot or an AOF rewrite runs in a child process, or a rewrite waits for a snapshot to end: either
        /// takes a core for a while.
        public let isBusy: Bool
        /// The AOF is on and has grown since its last rewrite, so Redis's automatic rewrite may start at any moment
        /// (after a large enqueue, say).
        public let aofHasGrown: Bool
    }

    /// Whether Redis is writing a snapshot or rewriting its AOF now, and whether its AOF has grown since the last
    /// rewrite.
    public func persistenceState() async throws -> PersistenceState {
        let info = try await connection.send(RedisCommand("INFO", "persistence")).string ?? ""
        func size(_ name: String) -> Int64 { RedisInfo.field(name, in: info).flatMap { Int64($0) } ?? 0 }
        return PersistenceState(
            isBusy: ["rdb_bgsave_in_progress", "aof_rewrite_in_progress", "aof_rewrite_scheduled"].contains { RedisInfo.field($0, in: info) == "1" },
            aofHasGrown: RedisInfo.field("aof_enabled", in: info) == "1" && size("aof_current_size") > size("aof_base_size"))
    }

    /// Starts an AOF rewrite now (`BGREWRITEAOF`), so the next timed phase does not meet an automatic one. Returns
    /// Redis's refusal (`NOPERM` for a user without the command, as the README's ACL rule has it), or nil when
    /// the rewrite started or was scheduled.
    public func rewriteAOF() async throws -> String? {
        do {
            try await connection.send(RedisCommand("BGREWRITEAOF"))
            return nil
        } catch let error as RedisError where error.kind == .server {
            return error.message
        }
    }
}

/// The Redis user may not run a command wooqueue needs, or not on its keys; or the server lacks a command.
public struct RedisAccessError: Error, CustomStringConvertible, Sendable {
    /// Each command refused, with the server's reply.
    public let refused: [(command: String, reply: String)]
    /// The user may not touch the key prefix's keys.
    public let keysRefused: Bool
    public let prefix: String
    public let endpoint: String

    public var description: String {
        var problems: [String] = []
        if refused.contains(where: { $0.reply.hasPrefix("NOAUTH") }) {
            return "Redis at \(endpoint) requires a user and password: put them in redis.url or WOOQUEUE_REDIS_URL "
                + "(redis://user:password@host:port/0)"
        }
        let denied = refused.filter { $0.reply.hasPrefix("NOPERM") }.map(\.command)
        if !denied.isEmpty {
            problems.append("the Redis user may not run \(denied.joined(separator: ", ")) (NOPERM)")
        }
        if keysRefused { problems.append("the Redis user may not use the keys \(prefix):* (NOPERM)") }
        for (command, reply) in refused where !reply.hasPrefix("NOPERM") {
            problems.append("\(command) failed: \(reply)\(reply.contains("unknown command") ? " (wooqueue needs Redis 7.0 or later)" : "")")
        }
        return "Redis at \(endpoint): " + problems.joined(separator: "; ")
            + ". Give the user the rule in the README's \"Redis user (ACL)\" section: "
            + QueueStore.aclRule(prefix: prefix)
    }
}

/// Redis runs in cluster mode, which wooqueue does not support (the README's "Redis Cluster" says why).
public struct RedisClusterError: Error, CustomStringConvertible, Sendable {
    public let endpoint: String

    public var description: String {
        "Redis at \(endpoint) runs in cluster mode (cluster_enabled:1), which wooqueue does not support: its queues "
            + "would gain no speed from sharding, and a cluster client would add a failure mode. Point redis.url at a "
            + "single primary (with replicas for safety); see the README's \"Redis Cluster\"."
    }
}
