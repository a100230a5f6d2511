import Foundation
import RedisClient
import TestSupport
import Testing

/// TLS to Redis: servers of the test's own started with `--tls-port` and certificates the `openssl` command made.
/// The server's plain port stays open for the test's own checks; wooqueue's connection uses the TLS port.
@Suite(.serialized) struct RedisTLSTests {
    /// A redis-server speaking TLS on a port of its own with `certificate`, trusting the CA `ca` for clients.
    private static func tlsServer(_ certificates: TestCertificates, certificate: String, ca: String = "ca",
                                  clientsNeedCertificates: Bool = false, extra: [String] = []) async throws -> (RedisServerProcess, Int) {
        let tlsPort = try freePort()
        let server = try await RedisServerProcess(arguments: [
            "--tls-port", "\(tlsPort)", "--tls-cert-file", certificates.path("\(certificate).pem"),
            "--tls-key-file", certificates.path("\(certificate).key"), "--tls-ca-cert-file", certificates.path("\(ca).pem"),
            "--tls-auth-clients", clientsNeedCertificates ? "yes" : "no",
        ] + extra)
        return (server, tlsPort)
    }

    @Test func commandsPipelinesAndLargeRepliesTravelOverTLS() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        try certificates.makeCA("ca")
        try certificates.makeCertificate("server", signedBy: "ca", names: ["DNS:localhost", "IP:127.0.0.1"])
        let (server, tlsPort) = try await Self.tlsServer(certificates, certificate: "server")
        defer { server.stop() }

        for host in ["127.0.0.1", "localhost"] {
            let redis = try RedisConnection(url: "rediss://\(host):\(tlsPort)/0?caFile=\(certificates.path("ca.pem"))", label: "tls")
            // Binary bytes, and a value over several TLS records and read buffers (the reader takes it in pieces).
            let large = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            var set = RedisCommand("SET", "tls-large")
            set.append(large)
            #expect(try await redis.send(set) == .status("OK"))
            #expect(try await redis.send("GET", "tls-large") == .bulk(large))
            let replies = try await redis.pipeline((0..<2000).map { _ in RedisRequest.command(RedisCommand("INCR", "tls-counter-\(host)")) })
            #expect(replies.last == .integer(2000))
            // What went over TLS is in the server, read on its plain port by another client.
            let plain = try RedisConnection(url: server.url, label: "plain")
            #expect(try await plain.send("GET", "tls-counter-\(host)").string == "2000")
            // The server sees one TLS client connection, not a plain one.
            let clients = try await plain.send("CLIENT", "LIST").string ?? ""
            #expect(clients.split(separator: "\n").contains { $0.contains("laddr=127.0.0.1:\(tlsPort)") }, "\(clients)")
            await redis.close()
        }
    }

    @Test func aServerSignedByAnotherCAIsRefusedWithWhatToSet() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        try certificates.makeCA("ca")
        try certificates.makeCA("other-ca")
        try certificates.makeCertificate("server", signedBy: "ca", names: ["IP:127.0.0.1"])
        let (server, tlsPort) = try await Self.tlsServer(certificates, certificate: "server")
        defer { server.stop() }

        let redis = try RedisConnection(url: "rediss://127.0.0.1:\(tlsPort)/0?caFile=\(certificates.path("other-ca.pem"))", label: "tls")
        let error = await #expect(throws: RedisError.self) { try await redis.send("PING") }
        #expect(error?.kind == .configuration, "a certificate refused is a setting to fix, not an outage: \(error.map { "\($0)" } ?? "")")
        #expect(error?.description.contains("not signed by a CA this client trusts") == true, "\(error.map { "\($0)" } ?? "")")
        #expect(error?.description.contains("caFile") == true)
        // The system's CAs (no caFile) do not trust a test CA either.
        let system = try RedisConnection(url: "rediss://127.0.0.1:\(tlsPort)/0", label: "tls")
        #expect(await (try? system.send("PING")) == nil)
    }

    @Test func aCertificateForAnotherHostIsRefusedUnlessThatNameIsGiven() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        try certificates.makeCA("ca")
        try certificates.makeCertificate("server", signedBy: "ca", names: ["DNS:redis.other.example"])
        let (server, tlsPort) = try await Self.tlsServer(certificates, certificate: "server")
        defer { server.stop() }
        let ca = certificates.path("ca.pem")

        for host in ["127.0.0.1", "localhost"] {
            let redis = try RedisConnection(url: "rediss://\(host):\(tlsPort)/0?caFile=\(ca)", label: "tls")
            let error = await #expect(throws: RedisError.self) { try await redis.send("PING") }
            #expect(error?.kind == .configuration)
            #expect(error?.description.contains("the certificate is not for \"\(host)\"") == true, "\(error.map { "\($0)" } ?? "")")
        }
        // The name the certificate is for, given as serverName, is verified (and sent as SNI) instead.
        let named = try RedisConnection(url: "rediss://127.0.0.1:\(tlsPort)/0?caFile=\(ca)&serverName=redis.other.example", label: "tls")
        #expect(try await named.send("PING") == .status("PONG"))
        let wrongName = try RedisConnection(url: "rediss://127.0.0.1:\(tlsPort)/0?caFile=\(ca)&serverName=redis.example", label: "tls")
        #expect(await (try? wrongName.send("PING")) == nil)
        // Turned off, only the chain is verified.
        let unchecked = try RedisConnection(url: "rediss://127.0.0.1:\(tlsPort)/0?caFile=\(ca)&verifyHostname=false", label: "tls")
        #expect(try await unchecked.send("PING") == .status("PONG"))
    }

    @Test func mutualTLSNeedsTheClientCertificateAndWorksWithIt() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        try certificates.makeCA("ca")
        try certificates.makeCA("other-ca")
        try certificates.makeCertificate("server", signedBy: "ca", names: ["IP:127.0.0.1"])
        let client = try certificates.makeCertificate("client", signedBy: "ca", names: ["DNS:wooqueue-worker"])
        let stranger = try certificates.makeCertificate("stranger", signedBy: "other-ca", names: ["DNS:wooqueue-worker"])
        let (server, tlsPort) = try await Self.tlsServer(certificates, certificate: "server", clientsNeedCertificates: true)
        defer { server.stop() }
        let base = "rediss://127.0.0.1:\(tlsPort)/0?caFile=\(certificates.path("ca.pem"))"

        let without = try RedisConnection(url: base, label: "tls")
        let error = await #expect(throws: RedisError.self) { try await without.send("PING") }
        #expect(error?.kind == .configuration, "\(error.map { "\($0)" } ?? "")")
        #expect(error?.description.contains("certFile and keyFile") == true, "\(error.map { "\($0)" } ?? "")")

        let refused = try RedisConnection(url: "\(base)&certFile=\(stranger.certificate)&keyFile=\(stranger.key)", label: "tls")
        #expect(await (try? refused.send("PING")) == nil, "a client certificate from another CA must be refused")

        let with = try RedisConnection(url: "\(base)&certFile=\(client.certificate)&keyFile=\(client.key)", label: "tls")
        #expect(try await with.send("SET", "mtls", "yes") == .status("OK"))
        #expect(try await with.send("GET", "mtls").string == "yes")

        // A key that is not the certificate's is refused before any connection, naming both files.
        let mismatched = try RedisConnection(url: "\(base)&certFile=\(client.certificate)&keyFile=\(stranger.key)", label: "tls")
        let mismatch = await #expect(throws: RedisError.self) { try await mismatched.send("PING") }
        #expect(mismatch?.description.contains("is not the key of certFile") == true, "\(mismatch.map { "\($0)" } ?? "")")
    }

    /// `rediss-sentinel://`: the Sentinel and the primary both over TLS; a failover is followed over TLS too.
    @Test func sentinelOverTLSFindsThePrimaryAndFollowsAFailover() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        try certificates.makeCA("ca")
        try certificates.makeCertificate("server", signedBy: "ca", names: ["IP:127.0.0.1"])
        let replication = ["--tls-replication", "yes"]
        let (primary, primaryTLS) = try await Self.tlsServer(certificates, certificate: "server", extra: replication)
        defer { primary.stop() }
        let (replica, replicaTLS) = try await Self.tlsServer(certificates, certificate: "server",
                                                            extra: replication + ["--replicaof", "127.0.0.1", "\(primaryTLS)"])
        defer { replica.stop() }
        let sentinelTLS = try freePort()
        let sentinel = try await RedisServerProcess(arguments: ["--sentinel",
            "--tls-port", "\(sentinelTLS)", "--tls-cert-file", certificates.path("server.pem"),
            "--tls-key-file", certificates.path("server.key"), "--tls-ca-cert-file", certificates.path("ca.pem"),
            "--tls-auth-clients", "no", "--tls-replication", "yes",
        ], sentinelConfiguration: """
            sentinel monitor wq-primary 127.0.0.1 \(primaryTLS) 1
            sentinel down-after-milliseconds wq-primary 1000
            sentinel failover-timeout wq-primary 10000

            """)
        defer { sentinel.stop() }
        let replicaAdmin = try RedisConnection(url: replica.url, label: "replica")
        try await waitUntil("the replica to be in sync over TLS", timeout: .seconds(20)) {
            RedisInfo.field("master_link_status", in: try await replicaAdmin.send("INFO", "replication").string ?? "") == "up"
        }
        let sentinelAdmin = try RedisConnection(url: sentinel.url, label: "sentinel")
        try await waitUntil("the Sentinel to know the replica", timeout: .seconds(20)) {
            (try await sentinelAdmin.send("SENTINEL", "REPLICAS", "wq-primary").array ?? []).count == 1
        }

        let redis = try RedisConnection(
            url: "rediss-sentinel://127.0.0.1:\(sentinelTLS)/wq-primary?caFile=\(certificates.path("ca.pem"))", label: "tls-sentinel")
        #expect(redis.configuration.endpointDescription.hasSuffix("over TLS"))
        #expect(try await redis.send("SET", "via-sentinel", "1") == .status("OK"))
        #expect(try await RedisConnection(url: primary.url, label: "p").send("GET", "via-sentinel").string == "1")

        try await sentinelAdmin.send("SENTINEL", "FAILOVER", "wq-primary")
        let newPrimary = try RedisConnection(url: replica.url, label: "new-primary")
        try await waitUntil("the replica to be promoted", timeout: .seconds(30)) {
            // A server closes its clients' connections when its role changes: the next call reconnects.
            (try? await newPrimary.send("ROLE"))?.array?.first?.string == "master"
        }
        // Promoted, it no longer takes the old primary's writes: a key it holds was written to it.
        var attempt = 0
        try await waitUntil("a write over TLS to land on the new primary", timeout: .seconds(30)) {
            attempt += 1
            _ = try? await redis.send("SET", "after-failover-\(attempt)", "1")
            return try await newPrimary.send("EXISTS", "after-failover-\(attempt)").int == 1
        }
        #expect(try await RedisConnection(url: sentinel.url, label: "s").send("SENTINEL", "get-master-addr-by-name", "wq-primary")
            .array?.last?.string == "\(replicaTLS)")
    }
}
