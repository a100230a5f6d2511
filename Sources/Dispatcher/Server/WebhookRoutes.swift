public import HTTPServer
import HTTPTypes
public import Hummingbird
public import Logging
import NIOCore
public import QueueCore
import Synchronization

/// The routes of the webhook listener (Hummingbird 2): the webhook endpoint, `/healthz` and `/readyz`, nothing
/// else. `/admin` and `/metrics` are served by another listener, so a proxy in front of this one never exposes them.
///
/// What a connection may cost is bounded before any signature is checked: at most `http.maxConnections` at once,
/// each closed after `http.idleTimeout` without a (whole) request head or when a body takes longer than
/// `http.readTimeout` after its head; a body over `http.maxBodyBytes` is refused on its `Content-Length` or as
/// soon as it passes the limit; a body without a signature is refused after its first bytes (a ping is shorter); and the bodies read
/// but not yet verified hold at most `http.maxUnverifiedBytes` together.
public enum WebhookRoutes {
    /// The routes, for ``HTTPListener`` on `http.host`:`http.port`.
    ///
    /// - Parameters:
    ///   - settings: the webhook path and the body limits (`http`).
    ///   - intake: decides each delivery.
    ///   - readiness: a store for `/readyz` to ping Redis with.
    public static func collection(
        http settings: HTTPSettings, intake: WebhookIntake, readiness: QueueStore, logger: Logger
    ) -> RouteCollection<ServerContext> {
        let router = RouteCollection(context: ServerContext.self)
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
            let redisReachable = await readiness.isReachable()
            // Deliveries are still accepted while Redis is away (into the spool), but this process cannot do its
            // whole job; a spool that cannot be replayed although Redis answers needs a person.
            let ready = redisReachable && !spool.isStuck
            return json(ready ? 200 : 503, """
                {"status":"\(ready ? "ready" : "not ready")","redis":"\(redisReachable ? "reachable" : "unreachable")",\
                "spool_bytes":\(spool.bytes),"spool":"\(spool.isStuck ? "stuck" : spool.bytes > 0 ? "replaying" : "empty")",\
                "spool_quarantine_bytes":\(spool.quarantinedBytes)}
                """)
        }
        return router
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

extension HTTPSettings {
    /// The connection limits of both listeners.
    public var listenerLimits: HTTPListener.Limits {
        HTTPListener.Limits(idleTimeout: idleTimeout, readTimeout: readTimeout, maxConnections: maxConnections)
    }
}
