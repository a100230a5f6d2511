import Parsing
import RedisClient
import Testing

/// The kinds of Redis error reply, without a server: what is an outage and what is a refusal.
@Suite struct RedisErrorTests {
    @Test func replyCodesAreTypedAndSayWhatIsAnOutage() {
        #expect(RedisError(.server, "LOADING Redis is loading the dataset in memory").serverCode == .loading)
        #expect(RedisError(.server, "NOSCRIPT No matching script").serverCode == .noScript)
        #expect(RedisError(.server, "ERR unknown command").serverCode == nil)
        #expect(RedisError(.connection, "OOM in the message of a connection error").serverCode == nil)
        for unavailable in ["LOADING x", "READONLY x", "MASTERDOWN x", "OOM x", "BUSY x", "TRYAGAIN x", "CLUSTERDOWN x"] {
            #expect(RedisError(.server, unavailable).isUnavailable, "\(unavailable)")
        }
        for refusal in ["NOSCRIPT x", "WRONGPASS x", "NOPERM x", "ERR x", "WRONGTYPE x", "OOMX not a code"] {
            #expect(!RedisError(.server, refusal).isUnavailable, "\(refusal)")
        }
        #expect(RedisError(.connection, "refused").isUnavailable && RedisError(.connection, "refused").isConnectionLost)
    }

    /// Every URL form keeps its passwords out of errors and logs.
    @Test func redisURLsOfEveryFormAreRedacted() throws {
        let sentinel = try RedisConfiguration(url: "redis-sentinel://app:hunter2@s1:26380,s2/mymaster/4?sentinelPassword=tr0ub4dor")
        #expect(sentinel.sentinel?.primaryName == "mymaster" && sentinel.database == 4 && sentinel.password == "hunter2")
        #expect(sentinel.endpointDescription == "mymaster (via Sentinel s1:26380,s2:26379)/4")
        for url in ["redis-sentinel://app:hunter2@s1:0/mymaster", "redis-sentinel://app:hunter2@s1/my master", "redis://:hunter2@h:99999999/x"] {
            let error = #expect(throws: RedisError.self) { _ = try RedisConfiguration(url: url) }
            #expect(error?.description.contains("hunter2") == false, "\(error.map { "\($0)" } ?? "accepted")")
        }
        #expect(!RedisConfiguration.redact("redis://u:hunter2@h:6379/0").contains("hunter2"))
        #expect(!RedisConfiguration.redact("redis-sentinel://u:hunter2@h/m?sentinelPassword=tr0ub4dor").contains("tr0ub4dor"))
        #expect(!RedisConfiguration.redact("rediss://u:hunter2@h:6380/0?caFile=/ca.pem").contains("hunter2"))
        #expect(!RedisConfiguration.redact("rediss-sentinel://u:hunter2@h/m?caFile=/ca.pem").contains("hunter2"))
    }

    @Test func tlsURLsCarryTheirOptionsAndRefuseWrongOnes() throws {
        let tls = try RedisConfiguration(url: "rediss://app:pw@redis.example:6380/2?caFile=/etc/wq/ca.pem&certFile=/etc/wq/c.pem&keyFile=/etc/wq/k.pem&serverName=redis.internal")
        #expect(tls.host == "redis.example" && tls.port == 6380 && tls.database == 2 && tls.password == "pw")
        #expect(tls.tls == RedisTLSOptions(caFile: "/etc/wq/ca.pem", certFile: "/etc/wq/c.pem", keyFile: "/etc/wq/k.pem", serverName: "redis.internal"))
        #expect(tls.endpointDescription == "redis.example:6380/2 over TLS")
        #expect(try RedisConfiguration(url: "rediss://h").tls == RedisTLSOptions())
        #expect(try RedisConfiguration(url: "redis://h").tls == nil)
        #expect(try RedisConfiguration(url: "rediss-sentinel://s1/m?caFile=/ca.pem").tls?.caFile == "/ca.pem")
        let refused: [(String, String)] = [
            ("redis://h?caFile=/ca.pem", "write the URL as rediss://"),
            ("redis://h?timeout=3", "a redis:// URL takes none"),
            ("rediss://h?certFile=/c.pem", "certFile and keyFile go together"),
            ("rediss://h?caFile=relative.pem", "absolute file path"),
            ("rediss://h?verify=0", "known: caFile, certFile, keyFile, serverName, verifyHostname"),
        ]
        for (url, reason) in refused {
            let error = #expect(throws: RedisError.self) { _ = try RedisConfiguration(url: url) }
            #expect(error?.kind == .configuration && error?.description.contains(reason) == true, "\(url): \(error.map { "\($0)" } ?? "accepted")")
        }
    }
}

