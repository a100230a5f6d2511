import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import QueueCore
import RedisClient
import Synchronization

/// The HTTP face of the dispatcher (Hummingbird 2): the webhook endpoint, `/healthz` and `/readyz`, nothing else.
/// `/admin` and `/metrics` have a listener of their own (``listener(router:host:port:limits:logger:onListening:)``),
/// so a proxy in front of this one never exposes them.
///
/// What a connection may cost is bounded before any signature is checked: at most `http.maxConnections` at once,
/// each closed after `http.idleTimeout` without a (whole) request head or when a body takes longer than
/// `http.readTimeout` after its head; a body over `http.maxBodyBytes` is refused on its `Content-Length` or as
/// soon as it passes the limit; a body without a signature is refused after its first bytes (a ping is shorter); and the bodies read
/// but not yet verified hold at most `http.maxUnverifiedBytes` together.
public enum WebhookServer {
    /// Builds the application; run it as a service (it listens on `http.host`:`http.port`).
    ///
    /// - Parameters:
    ///   - configuration: address, webhook path, limits and timeouts.
    ///   - intake: decides each delivery.
    ///   - readiness: a store for `/readyz` to ping Redis with.
    ///   - onListening: called with the bound port (useful with port 0).
    public static func application(
        configuration: WooqueueConfiguration, intake: WebhookIntake, readiness: QueueStore,
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: ServerContext.self)
        let settings = configuration.http
        let budget = UnverifiedBytes(limit: settings.maxUnverifiedBytes)
        router.post(RouterPath(settings.webhookPath)) { request, _ -> Response in
            let signed = request.headers[.wcSignature] != nil
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > settings.maxBodyBytes {
                return json(413, #"{"error":"body larger than \#(settings.maxBodyBytes) bytes"}"#)
            }
            let body: [UInt8]
            switch try await read(request.body, limit: signed ? settings.maxBodyBytes : WebhookIntake.longestPing, budget: signed ? budget : nil) {
            case .complete(let bytes): body = bytes
            case .tooLarge where !signed:
                // Not a ping, and unsigned: refused without reading the rest. The intake counts and logs it.
                body = []
            case .tooLarge:
                return json(413, #"{"error":"body larger than \#(settings.maxBodyBytes) bytes"}"#)
            case .overBudget:
                intake.countOverloaded(topic: request.headers[.wcTopic])
                logger.warning("Refused a delivery: too many unverified body bytes held at once", metadata: [
                    "http.max_unverified_bytes": "\(settings.maxUnverifiedBytes)"])
                return json(503, #"{"error":"too many deliveries are being read at once; try again"}"#)
            }
            defer { budget.release(signed ? body.count : 0) }
            let answer = await intake.receive(WebhookIntake.Request(
                topic: request.headers[.wcTopic], signature: request.headers[.wcSignature],
                deliveryID: request.headers[.wcDeliveryID], webhookID: request.headers[.wcWebhookID], body: body))
            return json(answer.status, answer.body)
        }
        router.get("/healthz") { _, _ in json(200, #"{"status":"alive"}"#) }
        router.get("/readyz") { _, _ -> Response in
            var spool = intake.spoolReadings
            spool.bytes = await intake.spooledBytes()
            let redisReachable = (try? await readiness.connection.send("PING")) != nil
            // Deliveries are still accepted while Redis is away (into the spool), but this process cannot do its
            // whole job; a spool that cannot be replayed although Redis answers needs a person.
            let ready = redisReachable && !spool.isStuck
            return json(ready ? 200 : 503, """
                {"status":"\(ready ? "ready" : "not ready")","redis":"\(redisReachable ? "reachable" : "unreachable")",\
                "spool_bytes":\(spool.bytes),"spool":"\(spool.isStuck ? "stuck" : spool.bytes > 0 ? "replaying" : "empty")",\
                "spool_quarantine_bytes":\(spool.quarantinedBytes)}
                """)
        }
        return listener(router: router, host: settings.host, port: settings.port, limits: settings, logger: logger,
                        onListening: onListening)
    }

    /// A wooqueue HTTP listener on `host`:`port` with the connection limits of `limits` (`http.maxConnections`,
    /// `http.idleTimeout`, `http.readTimeout`): the webhook listener, and the admin listener (`/admin`, `/metrics`).
    public static func listener(
        router: Router<ServerContext>, host: String, port: Int, limits: WooqueueConfiguration.HTTPSettings, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        Application(
            router: router,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [RequestDeadlineHandler(timeout: .milliseconds(limits.readTimeout.milliseconds))],
                idleTimeout: .milliseconds(limits.idleTimeout.milliseconds))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "wooqueue",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    private enum BodyRead {
        case complete([UInt8])
        case tooLarge
        case overBudget
    }

    /// Reads a body of at most `limit` bytes, counting it against `budget` as it arrives. On any outcome but
    /// `complete` whatever was reserved is given back; after `complete` the caller releases the body's size.
    private static func read(_ body: RequestBody, limit: Int, budget: UnverifiedBytes?) async throws -> BodyRead {
        var bytes: [UInt8] = []
        var reserved = 0
        do {
            for try await chunk in body {
                guard chunk.readableBytes <= limit - bytes.count else {
                    budget?.release(reserved)
                    return .tooLarge
                }
                if let budget {
                    guard budget.reserve(chunk.readableBytes) else {
                        budget.release(reserved)
                        return .overBudget
                    }
                    reserved += chunk.readableBytes
                }
                bytes.append(contentsOf: chunk.readableBytesView)
            }
        } catch {
            budget?.release(reserved)
            throw error
        }
        return .complete(bytes)
    }

    private static func json(_ status: Int, _ body: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// The bytes of webhook bodies read but not yet verified, across all connections, and their limit.
final class UnverifiedBytes: Sendable {
    private let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes `count` bytes of the budget, or nothing and false if they do not fit.
    func reserve(_ count: Int) -> Bool {
        while true {
            let current = held.load(ordering: .relaxed)
            guard count <= limit - current else { return false }
            if held.compareExchange(expected: current, desired: current + count, ordering: .relaxed).exchanged { return true }
        }
    }

    func release(_ count: Int) {
        if count > 0 { held.subtract(count, ordering: .relaxed) }
    }
}

extension HTTPField.Name {
    /// WooCommerce's webhook headers.
    static let wcTopic = Self("X-WC-Webhook-Topic")!
    static let wcSignature = Self("X-WC-Webhook-Signature")!
    static let wcDeliveryID = Self("X-WC-Webhook-Delivery-ID")!
    static let wcWebhookID = Self("X-WC-Webhook-ID")!
}
