import Foundation
import QueueCore
import RedisClient
import TestSupport
import Testing

/// `redis.waitReplicas`: writes wait for the replicas with `WAIT`, against a primary and a replica of the test's own.
@Suite(.serialized) struct ReplicationWaitTests {
    @Test func anEnqueueNoReplicaConfirmedThrowsAndASettleIsCounted() async throws {
        let primary = try await RedisServerProcess()
        defer { primary.stop() }
        let wait = ReplicationWait(replicas: 1, timeout: .milliseconds(50))
        let store = try QueueStore(url: primary.url, label: "wait", prefix: "wq", replicationWait: wait)
        let job = JobEnvelope(type: "noop", queue: "high", payload: Array("{}".utf8), maxAttempts: 1)

        let before = RedisHealth.replicationShortfalls
        let error = await #expect(throws: ReplicationShortfall.self) { try await store.enqueue([job]) }
        #expect(error?.confirmed == 0 && error?.wanted == 1)
        #expect(error?.description.contains("redis.waitReplicas") == true)
        // Written all the same: the error says it is not yet safe, not that it is missing.
        #expect(try await store.connection.send("LLEN", store.keys("high").ready).int == 1)
        #expect(RedisHealth.replicationShortfalls == before + 1)

        // A settle is not thrown back (the outcome is written); it is counted.
        let held = try await store.fetch(queue: "high", holder: "wait-test.0", max: 1, workers: 1)
        #expect(held.count == 1)
        let settled = try await store.settle(queue: "high", holder: "wait-test.0", [Settlement(kind: .done, id: job.id, held: held[0])])
        #expect(settled == 0)
        #expect(RedisHealth.replicationShortfalls == before + 2)

        // With a replica following, the same writes return once it has them.
        let replica = try await RedisServerProcess(arguments: ["--replicaof", "127.0.0.1", "\(primary.port)"])
        defer { replica.stop() }
        let replicaConnection = try RedisConnection(url: replica.url, label: "replica")
        try await waitUntil("the replica to be in sync", timeout: .seconds(20)) {
            RedisInfo.field("master_link_status", in: try await replicaConnection.send("INFO", "replication").string ?? "") == "up"
        }
        // A replica confirms within milliseconds, but this machine is shared: give it time.
        let patient = try QueueStore(url: primary.url, label: "wait-patient", prefix: "wq",
                                     replicationWait: ReplicationWait(replicas: 1, timeout: .seconds(5)))
        let confirmed = JobEnvelope(type: "noop", queue: "high", payload: Array("{}".utf8), maxAttempts: 1)
        try await patient.enqueue([confirmed])
        #expect(RedisHealth.replicationShortfalls == before + 2)
        // Confirmed means on the replica when the call returned, not later.
        #expect(try await replicaConnection.send("LLEN", store.keys("high").ready).int == 1)

        // More replicas than there are cannot confirm.
        let two = try QueueStore(url: primary.url, label: "wait-two", prefix: "wq", replicationWait: ReplicationWait(replicas: 2, timeout: .milliseconds(50)))
        let short = await #expect(throws: ReplicationShortfall.self) { try await two.enqueue([job]) }
        #expect(short?.confirmed == 1 && short?.wanted == 2)
    }
}
