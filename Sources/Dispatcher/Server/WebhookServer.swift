import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import QueueCore
import RedisClient

/// The HTTP face of the dispatcher (Hummingbird 2): the webhook endpoint, `/healthz` and `/readyz`, and the
/// routes others add (`/metrics`).
public enum WebhookServer {
    /// Builds the application; run it as a service (it listens on `http.host`:`http.port`).
    ///
    /// - Parameters:
    ///   - configuration: address, webhook path, body limit.
    ///   - intake: decides each delivery.
    ///   - readiness: a store for `/readyz` to ping Redis with.
    ///   - moreRoutes: adds other endpoints to the same server (`/metrics`).
    ///   - onListening: called with the bound port (useful with port 0).
    public static func application(
        configuration: WooqueueConfiguration, intake: WebhookIntake, readiness: QueueStore,
        moreRoutes: (Router<ServerContext>) -> Void = { _ in }, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: ServerContext.self)
        moreRoutes(router)
        let maxBody = configuration.http.maxBodyBytes
        router.post(RouterPath(configuration.http.webhookPath)) { request, _ -> Response in
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: maxBody)
            } catch is NIOTooManyBytesError {
                return json(413, #"{"error":"body larger than \#(maxBody) bytes"}"#)
            }
            let answer = await intake.receive(WebhookIntake.Request(
                topic: request.headers[.wcTopic], signature: request.headers[.wcSignature],
                deliveryID: request.headers[.wcDeliveryID], webhookID: request.headers[.wcWebhookID],
                body: Array(buffer: body)))
            return json(answer.status, answer.body)
        }
        router.get("/healthz") { _, _ in json(200, #"{"status":"alive"}"#) }
        router.get("/readyz") { _, _ -> Response in
            let spooled = await intake.spooledBytes()
            do {
                _ = try await readiness.connection.send("PING")
                return json(200, #"{"status":"ready","redis":"reachable","spool_bytes":\#(spooled)}"#)
            } catch {
                // Deliveries are still accepted (into the spool), but this process cannot do its whole job.
                return json(503, #"{"status":"not ready","redis":"unreachable","spool_bytes":\#(spooled)}"#)
            }
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.http.host, port: configuration.http.port), serverName: "wooqueue"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.http.port) },
            logger: logger)
    }

    private static func json(_ status: Int, _ body: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

extension HTTPField.Name {
    /// WooCommerce's webhook headers.
    static let wcTopic = Self("X-WC-Webhook-Topic")!
    static let wcSignature = Self("X-WC-Webhook-Signature")!
    static let wcDeliveryID = Self("X-WC-Webhook-Delivery-ID")!
    static let wcWebhookID = Self("X-WC-Webhook-ID")!
}
