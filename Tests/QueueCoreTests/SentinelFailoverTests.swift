import Foundation
import QueueCore
import RedisClient
import TestSupport
import Testing

/// A queue on a primary found through Redis Sentinel: a primary, a replica and a Sentinel of the test's own on
/// loopback. After a failover the same store writes to the new primary, and what the old one had replicated is there.
@Suite(.serialized) struct SentinelFailoverTests {
    @Test func theStoreFollowsAFailoverToTheNewPrimary() async throws {
        let primary = try await RedisServerProcess()
        defer { primary.stop() }
        let replica = try await RedisServerProcess(arguments: ["--replicaof", "127.0.0.1", "\(primary.port)"])
        defer { replica.stop() }
        let sentinel = try await RedisServerProcess(arguments: ["--sentinel"], sentinelConfiguration: """
            sentinel monitor wq-primary 127.0.0.1 \(primary.port) 1
            sentinel down-after-milliseconds wq-primary 1000
            sentinel failover-timeout wq-primary 10000

            """)
        defer { sentinel.stop() }
        let replicaAdmin = try RedisConnection(url: replica.url, label: "replica")
        try await waitUntil("the replica to be in sync", timeout: .seconds(20)) {
            let info = try await replicaAdmin.send("INFO", "replication").string ?? ""
            return RedisInfo.field("master_link_status", in: info) == "up"
        }
        let sentinelAdmin = try RedisConnection(url: sentinel.url, label: "sentinel")
        func primaryPort() async throws -> Int? {
            try await sentinelAdmin.send("SENTINEL", "get-master-addr-by-name", "wq-primary").array?.last?.string.flatMap { Int($0) }
        }
        #expect(try await primaryPort() == primary.port)

        let store = try QueueStore(url: "redis-sentinel://127.0.0.1:\(sentinel.port)/wq-primary", label: "sentinel-store", prefix: "wq")
        #expect(store.connection.configuration.endpointDescription.contains("wq-primary"))
        func jobs(_ range: Range<Int>) -> [JobEnvelope] {
            range.map { JobEnvelope(type: "noop", queue: "low", payload: Array("{}".utf8), maxAttempts: 1, key: "job-\($0)") }
        }
        _ = try await store.enqueue(jobs(0..<100))
        // Acknowledged by the replica too, so the failover cannot lose them (what redis.waitReplicas will do).
        #expect(try await store.connection.send("WAIT", "1", "5000").int == 1)

        try await sentinelAdmin.send("SENTINEL", "FAILOVER", "wq-primary")
        try await waitUntil("Sentinel to name the replica as the primary", timeout: .seconds(30)) {
            try await primaryPort() == replica.port
        }
        // Until Sentinel turns the old primary into a replica (and closes its clients), writes may still reach it:
        // they are lost when it resyncs (what `WAIT` detects, as redis.waitReplicas will). Then it answers READONLY,
        // which drops the connection, or closes it; either way the next command asks the Sentinel again. Probe
        // with one job at a time until one lands on the new primary, counting the writes that went astray.
        let newPrimary = try RedisConnection(url: replica.url, label: "new-primary")
        var (probes, outages) = (0, 0)
        try await waitUntil("a write to land on the new primary", timeout: .seconds(30)) {
            do {
                let before = try await newPrimary.send("LLEN", store.keys("low").ready).int ?? 0
                _ = try await store.enqueue(jobs((1000 + probes)..<(1001 + probes)))
                probes += 1
                return try await newPrimary.send("LLEN", store.keys("low").ready).int ?? 0 > before
            } catch let error as RedisError where error.isUnavailable {
                outages += 1  // READONLY, or a connection Sentinel closed: an outage the caller waits out
                return false
            }
        }
        print("sentinel failover: \(probes - 1) write(s) reached the old primary before it was demoted; \(outages) outage replies")
        // The watch of +switch-master moves the store within milliseconds; without it the writes kept going to the
        // old primary until Sentinel demoted it, over a second later (492 probes here).
        #expect(probes - 1 < 100, "\(probes - 1) writes went to the old primary after Sentinel had switched")
        _ = try await store.enqueue(jobs(100..<200))
        let stored = try await newPrimary.send("LRANGE", store.keys("low").ready, "0", "-1").array ?? []
        let keys = Set(stored.compactMap { $0.bytes.flatMap { try? JobEnvelope(decoding: $0).key } })
        let expected = Set((0..<200).map { "job-\($0)" })
        #expect(expected.subtracting(keys).isEmpty, "missing on the new primary: \(expected.subtracting(keys).sorted().prefix(5))")
        let fetched = try await store.fetch(queue: "low", holder: "sentinel-test.0", max: 10, workers: 1)
        #expect(fetched.count == 10)
        try await waitUntil("the old primary to serve as a replica", timeout: .seconds(30)) {
            let role = try await RedisConnection(url: primary.url, label: "old").send("ROLE").array?.first?.string
            return role == "slave"
        }
    }

    /// Bad Sentinel addresses are an outage that names each Sentinel and what it said, never a hang.
    @Test func noSentinelAnsweringIsAnOutageThatSaysWhy() async throws {
        let (first, second) = (try freePort(), try freePort())
        let redis = try RedisConnection(url: "redis-sentinel://:s3cret@127.0.0.1:\(first),127.0.0.1:\(second)/nowhere", label: "none")
        let error = await #expect(throws: RedisError.self) { try await redis.send("PING") }
        #expect(error?.isUnavailable == true)
        #expect(error?.description.contains("127.0.0.1:\(first)") == true && error?.description.contains("127.0.0.1:\(second)") == true)
        #expect(error?.description.contains("s3cret") == false)
    }

    /// Sentinels with a password of their own: without it in the URL the start stops with what to set (not an
    /// outage waited out); with it, the primary is found.
    @Test func sentinelsWithAPasswordNeedItInTheURL() async throws {
        let primary = try await RedisServerProcess()
        defer { primary.stop() }
        let sentinel = try await RedisServerProcess(arguments: ["--sentinel"], sentinelConfiguration: """
            requirepass sentinel-s3cret
            sentinel monitor wq-primary 127.0.0.1 \(primary.port) 1

            """)
        defer { sentinel.stop() }
        let without = try RedisConnection(url: "redis-sentinel://127.0.0.1:\(sentinel.port)/wq-primary", label: "without")
        let error = await #expect(throws: RedisError.self) { try await without.send("PING") }
        #expect(error?.kind == .configuration && error?.isUnavailable == false)
        #expect(error?.description.contains("sentinelPassword") == true, "\(error.map { "\($0)" } ?? "")")
        let with = try RedisConnection(url: "redis-sentinel://127.0.0.1:\(sentinel.port)/wq-primary?sentinelPassword=sentinel-s3cret",
                                       label: "with")
        #expect(try await with.send("PING") == .status("PONG"))
    }
}

