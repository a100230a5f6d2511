import Foundation
import TestSupport
import Testing

/// `/admin` and `/metrics` fail closed, seen through a real `serve` and a real nginx (Debian's package) on loopback,
/// proxying everything as the README's old advice did: a proxy on this host makes every request come from
/// loopback, and nginx's plain `proxy_pass` rewrites `Host` to the upstream's address and adds no forwarding header.
@Suite(.serialized) struct AdminListenerTests {
    /// nginx, run in the foreground from a directory of its own; stopped by `stop()`.
    struct Nginx {
        let process: Process
        let directory: URL

        /// One `server` per entry: it listens on `listen` and proxies every path to `upstream`, adding `headers`.
        static func start(_ servers: [(listen: Int, upstream: Int, headers: [String])]) async throws -> Nginx {
            let binary = "/usr/sbin/nginx"
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw TestFailure("nginx is missing: install Debian's nginx-light (scripts/services install does)")
            }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-nginx-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let blocks = servers.map { server in
                """
                  server {
                    listen 127.0.0.1:\(server.listen);
                    location / {
                      proxy_pass http://127.0.0.1:\(server.upstream);
                \(server.headers.map { "      \($0);" }.joined(separator: "\n"))
                    }
                  }
                """
            }
            let config = """
                daemon off;
                master_process off;
                pid \(directory.path)/nginx.pid;
                error_log \(directory.path)/error.log;
                events { worker_connections 64; }
                http {
                  access_log off;
                  client_body_temp_path \(directory.path)/body;
                  proxy_temp_path \(directory.path)/proxy;
                  fastcgi_temp_path \(directory.path)/fastcgi;
                  uwsgi_temp_path \(directory.path)/uwsgi;
                  scgi_temp_path \(directory.path)/scgi;
                \(blocks.joined(separator: "\n"))
                }
                """
            try Data(config.utf8).write(to: directory.appendingPathComponent("nginx.conf"))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-p", directory.path, "-c", directory.appendingPathComponent("nginx.conf").path,
                                 "-e", directory.appendingPathComponent("error.log").path]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let nginx = Nginx(process: process, directory: directory)
            do {
                for server in servers {
                    // Any answer at all (a 502 while the upstream is not up yet counts) means nginx listens.
                    try await waitUntil("nginx to listen on \(server.listen) (its log: \(nginx.log))", timeout: .seconds(10)) {
                        try await curl(["http://127.0.0.1:\(server.listen)/healthz"]).status != 0
                    }
                }
            } catch {
                nginx.stop()
                throw error
            }
            return nginx
        }

        /// What nginx wrote to its error log so far.
        var log: String { (try? String(contentsOfFile: directory.appendingPathComponent("error.log").path, encoding: .utf8)) ?? "" }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Starts `serve` (webhook listener on `webhook`, admin listener on `admin`, more admin settings in
    /// `adminSettings`), runs `body`, then stops it.
    func withServe(webhook: Int, admin: Int, adminSettings: String = "",
                   _ body: () async throws -> Void) async throws {
        let spool = "\(NSTemporaryDirectory())wq-admin-listener-\(webhook)"
        let cli = try CommandRunner(#"""
            {"http": {"port": \#(webhook)}, "webhooks": {"secrets": ["s3cret"], "spoolDirectory": "\#(spool)"},
             "admin": {"port": \#(admin)\#(adminSettings)}}
            """#)
        let (server, _, _) = try cli.start(["serve", "--no-workers", "--log-level", "error"])
        defer {
            if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: spool)
        }
        try await waitUntil("serve to answer on both listeners", timeout: .seconds(30)) {
            let webhookAnswers = try await curl(["http://127.0.0.1:\(webhook)/healthz"]).status == 200
            let adminAnswers = try await curl(["http://127.0.0.1:\(admin)/admin"]).status != 0
            return webhookAnswers && adminAnswers
        }
        try await body()
        kill(server.processIdentifier, SIGTERM)
        try await waitUntil("serve to stop", timeout: .seconds(30)) { !server.isRunning }
        try await cli.cleanup()
    }

    /// The default configuration behind an nginx that proxies everything, once to the webhook port and once to
    /// the admin port: the dashboard and the metrics are reachable through neither.
    @Test func throughAProxyOfEitherPortTheDashboardAndMetricsAreNotReachable() async throws {
        let (webhook, admin, proxyWebhook, proxyAdmin) = (try freePort(), try freePort(), try freePort(), try freePort())
        let nginx = try await Nginx.start([(proxyWebhook, webhook, []), (proxyAdmin, admin, [])])
        defer { nginx.stop() }
        try await withServe(webhook: webhook, admin: admin) {
            #expect(try await curl(["http://127.0.0.1:\(proxyWebhook)/healthz"]).status == 200, "the proxy forwards the webhook port")
            for path in ["/admin", "/admin/dlq", "/admin/live", "/metrics"] {
                #expect(try await curl(["http://127.0.0.1:\(proxyWebhook)\(path)"]).status == 404, "\(path) is not on the webhook port")
                let answer = try await curl(["http://127.0.0.1:\(proxyAdmin)\(path)"])
                #expect(answer.status == 403, "\(path) through a proxy of the admin port: \(answer.status)")
                #expect(answer.body.contains("admin.token"), "the refusal says what to set: \(answer.body)")
                let rebound = try await curl(["http://127.0.0.1:\(admin)\(path)", "-H", "Host: attacker.example"])
                #expect(rebound.status == 403, "\(path) with Host: attacker.example: \(rebound.status)")
                #expect(try await curl(["http://127.0.0.1:\(admin)\(path)"]).status == 403, "no credential is configured, so not even loopback")
            }
            let post = try await curl(["-X", "POST", "http://127.0.0.1:\(proxyAdmin)/admin/process-now",
                                       "-H", "Content-Type: application/x-www-form-urlencoded", "--data-binary", "csrf=x"])
            #expect(post.status == 403)
        }
    }

    /// With the opt-in, a direct request from this host is served; one that a proxy marked, or one to another
    /// `Host` (DNS rebinding), is not. A credential works through a proxy.
    @Test func theLoopbackOptInServesOnlyDirectRequests() async throws {
        let (webhook, admin, proxyAdmin) = (try freePort(), try freePort(), try freePort())
        let nginx = try await Nginx.start([(proxyAdmin, admin, ["proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for"])])
        defer { nginx.stop() }
        try await withServe(webhook: webhook, admin: admin,
                            adminSettings: #", "allowLoopbackWithoutCredentials": true, "token": "admin-t0ken""#) {
            let direct = try await curl(["http://127.0.0.1:\(admin)/admin"])
            #expect(direct.status == 200)
            #expect(direct.body.contains("allowLoopbackWithoutCredentials"), "the page says why it is open")
            #expect(try await curl(["http://localhost:\(admin)/metrics"]).body.contains("wooqueue_queue_jobs"))
            for (header, what) in [("Host: attacker.example", "another Host"), ("Host: attacker.example:\(admin)", "another Host with a port"),
                                   ("X-Forwarded-For: 203.0.113.9", "X-Forwarded-For"), ("X-Real-IP: 203.0.113.9", "X-Real-IP"),
                                   ("Forwarded: for=203.0.113.9", "Forwarded")] {
                #expect(try await curl(["http://127.0.0.1:\(admin)/admin", "-H", header]).status == 403, "\(what)")
            }
            #expect(try await curl(["http://127.0.0.1:\(proxyAdmin)/admin"]).status == 403, "a proxy that says so is refused")
            #expect(try await curl(["http://127.0.0.1:\(proxyAdmin)/admin", "-H", "Authorization: Bearer admin-t0ken"]).status == 200)
            #expect(try await curl(["http://127.0.0.1:\(admin)/admin", "-H", "Authorization: Bearer wrong"]).status == 401,
                    "a wrong credential is never excused by loopback")
        }
    }

    @Test func serveRefusesAnAdminListenerOffLoopbackWithoutACredential() async throws {
        let cli = try CommandRunner(#"{"webhooks": {"secrets": ["s3cret"]}, "http": {"port": 0}, "admin": {"host": "0.0.0.0"}}"#)
        let result = try await cli.run(["serve"], timeout: .seconds(20))
        #expect(result.status != 0)
        #expect(result.stderr.contains("admin.host is 0.0.0.0, which is not a loopback address"), "\(result.stderr)")
        try await cli.cleanup()
    }
}
