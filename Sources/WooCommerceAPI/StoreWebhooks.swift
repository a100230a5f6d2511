public import NIOHTTP1
public import Parsing

/// A webhook as the REST API v3 shows it (`/wc/v3/webhooks`). The answer holds no secret, failure count or API
/// version, so nothing here relies on them: a webhook's secret can be set, never read.
public struct StoreWebhook: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// `active`, `paused`, or `disabled` (WooCommerce's own doing, after more than 5 failed deliveries in a row).
    public var status: String
    /// `order.created`, `product.updated`, …
    public var topic: String
    public var deliveryURL: String

    public init(id: Int64, name: String, status: String, topic: String, deliveryURL: String) {
        self.id = id
        self.name = name
        self.status = status
        self.topic = topic
        self.deliveryURL = deliveryURL
    }

    /// Reads one element of the answer; `nil` when it lacks an id or a topic.
    init?(_ value: JSONValue) {
        guard case .number(let number)? = value["id"], let id = Int64(exactly: number), id > 0,
              case .string(let topic)? = value["topic"] else { return nil }
        self.id = id
        self.topic = topic
        if case .string(let name)? = value["name"] { self.name = name } else { self.name = "" }
        if case .string(let status)? = value["status"] { self.status = status } else { self.status = "" }
        if case .string(let url)? = value["delivery_url"] { self.deliveryURL = url } else { self.deliveryURL = "" }
    }
}

/// The fields of a webhook to create or change; a field left `nil` is not sent (and not changed).
public struct WebhookChange: Sendable, Equatable {
    public var name: String?
    public var status: String?
    public var topic: String?
    public var deliveryURL: String?
    public var secret: String?

    public init(name: String? = nil, status: String? = nil, topic: String? = nil, deliveryURL: String? = nil, secret: String? = nil) {
        self.name = name
        self.status = status
        self.topic = topic
        self.deliveryURL = deliveryURL
        self.secret = secret
    }

    public var isEmpty: Bool { self == WebhookChange() }

    /// The request body: a JSON object of the fields that are set.
    var json: [UInt8] {
        var body: [UInt8] = [UInt8(ascii: "{")]
        let fields = [("name", name), ("status", status), ("topic", topic), ("delivery_url", deliveryURL), ("secret", secret)]
        for (index, (key, value)) in fields.compactMap({ field in field.1.map { (field.0, $0) } }).enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            JSONWriter.appendString(key, to: &body)
            body.append(UInt8(ascii: ":"))
            JSONWriter.appendString(value, to: &body)
        }
        body.append(UInt8(ascii: "}"))
        return body
    }
}

extension WooCommerceClient {
    /// Every webhook of the store, whatever its status (all pages).
    public func webhooks() async throws -> [StoreWebhook] {
        var webhooks: [StoreWebhook] = []
        var page = 1
        while true {
            let result = try await list("webhooks", parameters: [("status", "all"), ("page", String(page)), ("per_page", "100")])
            for item in result.items {
                guard let value = try? JSONValue.parse(item), let webhook = StoreWebhook(value) else {
                    throw WooCommerceError.unexpectedBody(path: "webhooks", String(decoding: item.prefix(200), as: UTF8.self))
                }
                webhooks.append(webhook)
            }
            if result.items.isEmpty || !result.hasMore(after: page) { return webhooks }
            page += 1
        }
    }

    /// `POST /webhooks`. WooCommerce sends the new webhook a ping delivery at once.
    public func createWebhook(_ change: WebhookChange) async throws -> StoreWebhook {
        try Self.webhook(from: try await send(.POST, "webhooks", json: change.json).body, path: "webhooks")
    }

    /// `PUT /webhooks/<id>` with the fields that are set.
    public func updateWebhook(id: Int64, _ change: WebhookChange) async throws -> StoreWebhook {
        try Self.webhook(from: try await send(.PUT, "webhooks/\(id)", json: change.json).body, path: "webhooks/\(id)")
    }

    /// `DELETE /webhooks/<id>?force=true` (webhooks have no trash).
    public func deleteWebhook(id: Int64) async throws {
        _ = try await send(.DELETE, "webhooks/\(id)", parameters: [("force", "true")])
    }

    private static func webhook(from body: [UInt8], path: String) throws -> StoreWebhook {
        guard let value = try? JSONValue.parse(body), let webhook = StoreWebhook(value) else {
            throw WooCommerceError.unexpectedBody(path: path, String(decoding: body.prefix(200), as: UTF8.self))
        }
        return webhook
    }
}
