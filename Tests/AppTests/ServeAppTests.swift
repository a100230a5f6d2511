import AppConfiguration
import Dispatcher
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Operations
import QueueCore
import ServiceLifecycle
import TestSupport
import Testing
@testable import wooqueue

/// `serve`'s two listeners, built in-process by the executable's `buildApplication` and driven with
/// HummingbirdTesting against a real Redis: each serves its own routes and nothing of the other's.
@Suite struct ServeAppTests {
    @Test func eachListenerServesItsRoutesAndNothingElse() async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("wq-app-\(UUID().uuidString)").path
        try await withFreshQueue("app", #"""
                {"webhooks": {"secrets": ["app-s3cret"], "spoolDirectory": "\#(spool)"}, "admin": {"token": "app-admin"},
                 "http": {"metricsToken": "app-metrics"}}
                """#) { configuration, store in
            var logger = Logger(label: "test.app")
            logger.logLevel = .critical
            let intake = try WebhookIntake(configuration: configuration, store: store.withNewConnection(label: "intake"), logger: logger)
            let access = AdminAccess(settings: configuration.admin, metricsToken: configuration.http.metricsToken)
            let listeners = buildApplication(
                configuration: configuration, intake: intake, readiness: store,
                dashboard: try AdminDashboard(configuration: configuration, store: store.withNewConnection(label: "admin"), access: access,
                                              catalogue: nil, logger: logger),
                metrics: MetricsEndpoint(metrics: ClusterMetrics(store: store.withNewConnection(label: "metrics"), queues: configuration.queues),
                                         access: access),
                logger: logger)
            let group = ServiceGroup(configuration: .init(services: [intake], logger: logger))
            let running = Task { try await group.run() }
            defer { try? FileManager.default.removeItem(atPath: spool) }

            let body = try Fixtures.bytes("product-simple.json")
            let signature = try OpenSSL.hmacSHA256Base64(body, key: "app-s3cret")
            try await listeners.webhooks.test(.router) { client in
                try await client.execute(uri: "/webhooks/woocommerce", method: .post,
                                         headers: [.init("X-WC-Webhook-Topic")!: "product.updated", .init("X-WC-Webhook-Signature")!: signature],
                                         body: ByteBuffer(bytes: body)) { #expect($0.status == .ok, "\(String(buffer: $0.body))") }
                try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
                for path in ["/admin", "/admin/dlq", "/metrics"] {
                    try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer app-admin"]) {
                        #expect($0.status == .notFound, "\(path) is not on the webhook listener")
                    }
                }
            }
            try await listeners.admin.test(.router) { client in
                try await client.execute(uri: "/admin", method: .get, headers: [.authorization: "Bearer app-admin"]) { #expect($0.status == .ok) }
                try await client.execute(uri: "/admin", method: .get) { #expect($0.status == .unauthorized) }
                try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer app-metrics"]) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains(#"wooqueue_queue_jobs{queue="bulk",state="ready"} 1"#), "the delivery became a job")
                }
                try await client.execute(uri: "/webhooks/woocommerce", method: .post, body: ByteBuffer(bytes: body)) {
                    #expect($0.status == .notFound, "the webhook path is not on the admin listener")
                }
                try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .notFound) }
            }
            await group.triggerGracefulShutdown()
            try await running.value
        }
    }
}
