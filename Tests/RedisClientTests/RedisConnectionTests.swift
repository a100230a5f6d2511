import Foundation
import RedisClient
import TestSupport
import Testing

@Suite struct RedisConnectionTests {
    let url = TestEnvironment.redisURL

    @Test func commandsRoundTripBinarySafeArguments() async throws {
        let redis = try RedisConnection(url: url)
        let key = TestEnvironment.uniquePrefix("binary")
        let value: [UInt8] = [0, 13, 10, 0xFF, 0x24, 0x2A, 0x00, 0x41]
        var set = RedisCommand("SET", key)
        set.append(value)
        #expect(try await redis.send(set) == .status("OK"))
        #expect(try await redis.send("GET", key) == .bulk(value))
        #expect(try await redis.send("DEL", key) == .integer(1))
        #expect(try await redis.send("GET", key) == .null)
    }

    @Test func pipelineReturnsEveryReplyInOrderWithErrorsInPlace() async throws {
        let redis = try RedisConnection(url: url)
        let key = TestEnvironment.uniquePrefix("pipeline")
        let replies = try await redis.pipeline([
            .command(RedisCommand("RPUSH", key, "a", "b", "c")),
            .command(RedisCommand("LRANGE", key, "0", "-1")),
            .command(RedisCommand("INCR", key)),
            .command(RedisCommand("DEL", key)),
        ])
        #expect(replies.count == 4)
        #expect(replies[0] == .integer(3))
        #expect(replies[1] == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8)), .bulk(Array("c".utf8))]))
        guard case .error(let message) = replies[2] else { Issue.record("INCR on a list must fail, got \(replies[2])"); return }
        #expect(message.hasPrefix("WRONGTYPE"))
        #expect(replies[3] == .integer(1))
    }

    @Test func serverErrorsCarryTheServersMessage() async throws {
        let redis = try RedisConnection(url: url)
        let error = await #expect(throws: RedisError.self) { try await redis.send("NOSUCHCOMMAND", "x") }
        #expect(error?.kind == .server)
        #expect(error?.message.contains("unknown command") == true)
        #expect(error?.isUnavailable == false)
    }

    @Test func scriptsRunBySHAAndReloadAfterTheCacheIsFlushed() async throws {
        let redis = try RedisConnection(url: url)
        let script = RedisScript(name: "echo", source: "return {KEYS[1], ARGV[1]}")
        let first = try await redis.run(script, keys: ["k"], arguments: [Array("v".utf8)])
        #expect(first == .array([.bulk(Array("k".utf8)), .bulk(Array("v".utf8))]))
        // The server forgets every script, as after a restart: the next call must load it again by itself.
        try await redis.send("SCRIPT", "FLUSH")
        let second = try await redis.run(script, keys: ["k2"], arguments: [Array("v2".utf8)])
        #expect(second == .array([.bulk(Array("k2".utf8)), .bulk(Array("v2".utf8))]))
    }

    @Test func reconnectsAfterTheConnectionIsKilled() async throws {
        let redis = try RedisConnection(url: url)
        let id = try #require(try await redis.send("CLIENT", "ID").int)
        let admin = try RedisConnection(url: url)
        #expect(try await admin.send("CLIENT", "KILL", "ID", String(id)) == .integer(1))
        // The first call finds the connection broken and says so; the next one reconnects.
        let error = await #expect(throws: RedisError.self) { try await redis.send("PING") }
        #expect(error?.kind == .connection)
        #expect(error?.isUnavailable == true)
        #expect(try await redis.send("PING") == .status("PONG"))
        #expect(try await redis.send("CLIENT", "ID").int != id)
    }

    @Test func authenticatesAndSelectsTheDatabaseFromTheURL() async throws {
        let admin = try RedisConnection(url: url)
        let user = TestEnvironment.uniquePrefix("user")
        try await admin.send("ACL", "SETUSER", user, "on", ">s3cret:pass", "~*", "+@all")
        defer { Task { try? await admin.send("ACL", "DELUSER", user) } }
        let base = try RedisConfiguration(url: url)
        let authed = try RedisConnection(url: "redis://\(user):s3cret%3Apass@\(base.host):\(base.port)/5")
        #expect(try await authed.send("ACL", "WHOAMI").string == user)
        let key = TestEnvironment.uniquePrefix("db5")
        try await authed.send("SET", key, "x")
        defer { Task { try? await authed.send("DEL", key) } }
        #expect(try await admin.send("EXISTS", key) == .integer(0), "the key must be in database 5, not 0")
        #expect(try await authed.send("EXISTS", key) == .integer(1))

        let wrong = try RedisConnection(url: "redis://\(user):wrong@\(base.host):\(base.port)/0")
        let error = await #expect(throws: RedisError.self) { try await wrong.send("PING") }
        // A wrong password is a setting to fix, not an outage to wait out.
        #expect(error?.kind == .configuration)
        #expect(error?.isUnavailable == false)
        #expect(error?.message.contains("WRONGPASS") == true)
        #expect(error?.description.contains("wrong") == false, "the password is not in the message")
    }

    @Test func refusedConnectionIsAnUnavailableError() async throws {
        let redis = try RedisConnection(url: "redis://127.0.0.1:1/0")
        let error = await #expect(throws: RedisError.self) { try await redis.send("PING") }
        #expect(error?.isUnavailable == true)
        #expect(error?.description.contains("127.0.0.1:1") == true)
    }

    @Test func urlParsing() throws {
        let config = try RedisConfiguration(url: "redis://:p%40ss@example.com:6390/2")
        #expect(config.host == "example.com")
        #expect(config.port == 6390)
        #expect(config.password == "p@ss")
        #expect(config.username == nil)
        #expect(config.database == 2)
        #expect(RedisConfiguration.redact("redis://:secret@h:1/0").contains("secret") == false)
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "http://h:1") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://h:1/x") }
    }
}
