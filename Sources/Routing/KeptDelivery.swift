import Foundation
public import QueueCore

/// A signed delivery that could not become jobs (not JSON, no route, a body that does not fit its topic), kept in
/// the `webhooks` dead-letter list for review with the reason. The intake writes it; `wooqueue dlq retry` and the
/// dashboard route it again (``DeliveryRouter``'s `jobs(for: KeptDelivery)`), once the route exists.
public struct KeptDelivery: Sendable, Equatable {
    /// The dead-letter list of kept deliveries. No worker serves it: its entries are routed, never run.
    public static let queue = "webhooks"
    /// The dead letter's job type.
    public static let type = "webhook.delivery"

    public var topic: String?
    public var deliveryID: String?
    public var webhookID: String?
    /// The body as text (it is kept in a JSON string).
    public var body: [UInt8]

    public init(topic: String?, deliveryID: String?, webhookID: String?, body: [UInt8]) {
        self.topic = topic
        self.deliveryID = deliveryID
        self.webhookID = webhookID
        self.body = body
    }

    /// The dead letter that keeps it, failed once with `reason`.
    public func envelope(reason: String, now: Int64 = WallClock.nowMillis()) -> JobEnvelope {
        let stored = Stored(topic: topic, deliveryID: deliveryID, webhookID: webhookID, body: String(decoding: body, as: UTF8.self))
        // Encoding a struct of strings cannot fail.
        let payload = (try? Self.encoder.encode(stored)).map { Array($0) } ?? []
        var envelope = JobEnvelope(type: Self.type, queue: Self.queue, payload: payload, maxAttempts: 1, enqueuedAt: now,
                                   key: deliveryID, source: "woocommerce:\(topic ?? "?")")
        envelope.attempt = 1
        envelope.firstError = reason
        envelope.lastError = reason
        envelope.firstFailedAt = now
        envelope.lastFailedAt = now
        envelope.deadAt = now
        return envelope
    }

    /// Reads a kept delivery back from its dead letter; `nil` for any other envelope.
    public init?(_ envelope: JobEnvelope) {
        guard envelope.type == Self.type, let stored = try? JSONDecoder().decode(Stored.self, from: Data(envelope.payload)) else {
            return nil
        }
        self.init(topic: stored.topic, deliveryID: stored.deliveryID, webhookID: stored.webhookID, body: Array(stored.body.utf8))
    }

    /// The dead letter's payload: `{"topic", "delivery_id", "webhook_id", "body"}`, the body as a JSON string.
    private struct Stored: Codable {
        var topic: String?
        var deliveryID: String?
        var webhookID: String?
        var body: String

        enum CodingKeys: String, CodingKey {
            case topic, body
            case deliveryID = "delivery_id"
            case webhookID = "webhook_id"
        }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return encoder
    }()
}

extension DeliveryRouter {
    /// The jobs a kept delivery becomes now; throws why when it still cannot be routed.
    public func jobs(for kept: KeptDelivery, now: Int64 = WallClock.nowMillis()) throws(RoutingError) -> [JobEnvelope] {
        try jobs(for: Delivery(topic: kept.topic ?? "", deliveryID: kept.deliveryID, body: kept.body, origin: "woocommerce"), now: now)
    }
}
