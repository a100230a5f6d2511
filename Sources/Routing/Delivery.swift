/// A WooCommerce webhook delivery, or its stand-in from the command line or a REST sweep.
public struct Delivery: Sendable {
    /// `product.updated`, `order.created`, …
    public var topic: String
    /// `X-WC-Webhook-Delivery-ID`; `nil` for deliveries that did not come through a webhook.
    public var deliveryID: String?
    /// The exact body bytes: the resource as WooCommerce's REST API returns it.
    public var body: [UInt8]
    /// Where it came from, for the jobs' `source`: `woocommerce`, `cli`, `reconcile`.
    public var origin: String

    public init(topic: String, deliveryID: String?, body: [UInt8], origin: String) {
        self.topic = topic
        self.deliveryID = deliveryID
        self.body = body
        self.origin = origin
    }
}

/// A delivery that cannot become jobs; it is kept in the webhook dead-letter list with this reason.
public enum RoutingError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidJSON(String)
    case notAnObject
    /// A member routing reads has a value it cannot take (an id or quantity out of range, a wrong type).
    case invalidMember(String)
    /// The body cannot be what the topic header says (an order sent as `product.deleted`).
    case bodyDoesNotFitTopic(topic: String, reason: String)
    case noRoute(topic: String, known: [String])

    public var description: String {
        switch self {
        case .invalidJSON(let reason): "the body is not valid JSON: \(reason)"
        case .notAnObject: "the body is not a JSON object"
        case .invalidMember(let reason): "the body cannot be routed: \(reason)"
        case .bodyDoesNotFitTopic(let topic, let reason): "the body does not fit the topic \"\(topic)\": \(reason)"
        case .noRoute(let topic, let known): "no route for topic \"\(topic)\" (routed topics: \(known.joined(separator: ", "))); add it under routes in config.json"
        }
    }
}
