import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import TestSupport
import WooCommerceAPI

/// A small real WooCommerce REST API v3: products and variations from the fixtures, paged with the real headers
/// (`X-WP-Total`, `X-WP-TotalPages`, `Link`), `modified_after` filtering, and OAuth 1.0a checked as WooCommerce
/// checks it (re-implemented here from WooCommerce's PHP, independently of the client under test).
final class FakeStore: Sendable {
    /// Keys with Read access (the everyday keys).
    static let consumerKey = "ck_test_4f2a"
    static let consumerSecret = "cs_test_9b1c"
    /// Keys with Read/Write access, of a user who can manage WooCommerce (`woocommerce.manageKey`).
    static let manageKey = "ck_manage_77d0"
    static let manageSecret = "cs_manage_31e5"

    /// A webhook as WooCommerce stores it: what the v3 answer shows, and what it never shows (secret, failures).
    struct Webhook: Sendable {
        var id: Int64
        var name: String
        var status: String
        var topic: String
        var deliveryURL: String
        var secret: String
        var failureCount = 0
        var created: String
        var modified: String
    }

    struct State: Sendable {
        /// Products by id, as JSON objects.
        var products: [Int64: [String: any Sendable]] = [:]
        /// Variations by parent id.
        var variations: [Int64: [[String: any Sendable]]] = [:]
        /// Answer this products page with 401 (a stand-in for an interruption).
        var failPage: Int?
        /// Leave out `X-WP-TotalPages`, so clients must follow the `Link` header.
        var omitTotalPages = false
        /// How long WooCommerce takes to build a page of the products listing.
        var pageDelay: Duration = .zero
        /// Products listing requests being answered now, and the most at once.
        var listingsInFlight = 0
        var peakListingsInFlight = 0
        /// Answer this products page once with 429 and `Retry-After` (seconds), then normally.
        var throttle: (page: Int, retryAfter: Int)?
        /// When each products listing request arrived (this server's clock), and its page.
        var listingArrivals: [(at: ContinuousClock.Instant, page: Int)] = []
        /// When the 429 was sent.
        var throttledAt: ContinuousClock.Instant?
        /// Requests seen: path and query.
        var requests: [(path: String, query: [String: String])] = []
        /// The store's webhooks by id, and the next id (WooCommerce's are post ids).
        var webhooks: [Int64: Webhook] = [:]
        var nextWebhookID: Int64 = 101
        /// Changes made through the API: method and path.
        var writes: [String] = []
        /// Orders by id (the fixture's shape, with their own id, status and `date_created_gmt`).
        var orders: [Int64: [String: any Sendable]] = [:]
    }

    let state = Mutex(State())
    let port: Int
    private let group: ServiceGroup

    private init(port: Int, group: ServiceGroup) {
        self.port = port
        self.group = group
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// A REST client of this store with `key` and `secret` (the everyday Read keys by default), quick to give up.
    func client(key: String = consumerKey, secret: String = consumerSecret, perPage: Int = 100) throws -> WooCommerceClient {
        var logger = Logger(label: "test.woocommerce")
        logger.logLevel = .error
        return try WooCommerceClient(settings: .init(url: url, consumerKey: key, consumerSecret: secret, authentication: .auto,
                                                     perPage: perPage, timeout: .seconds(5), reconcileInterval: .zero),
                                     logger: logger, attempts: 2, firstDelay: .milliseconds(10))
    }

    /// The fixture catalogue: 794, 801, 802, 803 (no SKU), 900 (variable) with variations 901 and 902.
    static func start() async throws -> FakeStore {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let box = Box()
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            guard let store = box.store else { return Response(status: .serviceUnavailable) }
            // The signature is checked by an independent port of WooCommerce's own check, not by a second reading of
            // wooqueue's signer (the two once shared a bug that only a real store found).
            guard let keys = await store.verifyOAuth(request) else {
                return store.json(.unauthorized, ["code": "woocommerce_rest_authentication_error",
                                                  "message": "Invalid signature - provided signature does not match."])
            }
            if request.method != .get, keys == .read {
                return store.json(.unauthorized, ["code": "woocommerce_rest_authentication_error",
                                                  "message": "The API key provided does not have write permissions."])
            }
            if request.uri.path.hasPrefix("/wp-json/wc/v3/webhooks") {
                let body = try await request.body.collect(upTo: 1 << 20)
                return store.answerWebhooks(request, body: Array(buffer: body))
            }
            if request.uri.path == "/wp-json/wc/v3/products" { return try await store.answerListing(request) }
            return store.answer(request)
        }
        router.get("wp-json/wc/v3/**", use: handler)
        router.post("wp-json/wc/v3/**", use: handler)
        router.put("wp-json/wc/v3/**", use: handler)
        router.delete("wp-json/wc/v3/**", use: handler)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        var logger = Logger(label: "test.store")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        Task {
            try? await group.run()
            continuation.finish()  // a server that fails to start ends the wait below (port 0: the tests fail)
        }
        var iterator = ports.makeAsyncIterator()
        let store = FakeStore(port: await iterator.next() ?? 0, group: group)
        box.store = store
        try store.state.withLock { state in
            for name in ["product-simple.json", "product-numeric-sku.json", "product-unmanaged-stock.json", "product-no-sku.json", "product-variable.json"] {
                let product = try Self.object(name)
                state.products[(product["id"] as! NSNumber).int64Value] = product
            }
            state.variations[900] = [try Self.object("variation-901.json"), try Self.object("variation-902.json")]
        }
        return store
    }

    func stop() {
        Task { await group.triggerGracefulShutdown() }
    }

    static func object(_ fixture: String) throws -> [String: any Sendable] {
        (try JSONSerialization.jsonObject(with: Data(try Fixtures.bytes(fixture))) as! [String: Any]).mapValues { $0 as! any Sendable }
    }

    private final class Box: @unchecked Sendable {
        // Set once before the first request can arrive.
        var store: FakeStore?
    }

    // MARK: - Answering

    /// A products listing as a busy store answers it: after `pageDelay`, or with the one 429 asked for.
    private func answerListing(_ request: Request) async throws -> Response {
        let page = request.uri.queryParameters["page"].flatMap { Int(String($0)) } ?? 1
        let now = ContinuousClock.now
        let throttled = state.withLock { state -> Int? in
            state.listingArrivals.append((now, page))
            guard let throttle = state.throttle, throttle.page == page else { return nil }
            state.throttle = nil
            state.throttledAt = .now
            return throttle.retryAfter
        }
        if let throttled {
            var response = json(.tooManyRequests, ["code": "too_many_requests", "message": "Slow down."])
            response.headers[HTTPField.Name("Retry-After")!] = String(throttled)
            return response
        }
        let delay = state.withLock { state in
            state.listingsInFlight += 1
            state.peakListingsInFlight = max(state.peakListingsInFlight, state.listingsInFlight)
            return state.pageDelay
        }
        defer { state.withLock { $0.listingsInFlight -= 1 } }
        try await Task.sleep(for: delay)
        return answer(request)
    }

    /// Adds `count` simple products made from the fixture, with ids from `firstID` and SKUs `MORE-<id>`.
    func addSimpleProducts(_ count: Int, firstID: Int64 = 5000) throws {
        let template = try Self.object("product-simple.json")
        state.withLock { state in
            for id in firstID..<(firstID + Int64(count)) {
                var product = template
                product["id"] = id
                product["sku"] = "MORE-\(id)"
                state.products[id] = product
            }
        }
    }

    private func answer(_ request: Request) -> Response {
        let path = request.uri.path
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        state.withLock { $0.requests.append((path, query)) }
        let parts = path.split(separator: "/").dropFirst(3).map(String.init)  // after wp-json/wc/v3
        let snapshot = state.withLock { $0 }
        switch parts.count {
        case 1 where parts[0] == "orders":
            return answerOrders(query, path: path)
        case 1 where parts[0] == "products":
            let page = Int(query["page"] ?? "1") ?? 1
            if snapshot.failPage == page {
                return json(.unauthorized, ["code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources."])
            }
            let all = snapshot.products.keys.sorted().map { snapshot.products[$0]! }
            return list(all, query: query, path: path)
        case 2 where parts[0] == "products":
            guard let id = Int64(parts[1]), let product = snapshot.products[id] else { return notFound() }
            return json(.ok, product)
        case 3 where parts[0] == "products" && parts[2] == "variations":
            return list(snapshot.variations[Int64(parts[1]) ?? 0] ?? [], query: query, path: path)
        case 4 where parts[0] == "products" && parts[2] == "variations":
            guard let variation = snapshot.variations[Int64(parts[1]) ?? 0]?.first(where: { "\($0["id"]!)" == parts[3] }) else { return notFound() }
            return json(.ok, variation)
        default:
            return notFound()
        }
    }

    private func list(_ items: [[String: any Sendable]], query: [String: String], path: String) -> Response {
        var items = items
        if let after = query["modified_after"] {
            items = items.filter { ($0["date_modified_gmt"] as? String ?? "") > after }
        }
        let perPage = Int(query["per_page"] ?? "10") ?? 10
        let page = Int(query["page"] ?? "1") ?? 1
        let totalPages = max(1, (items.count + perPage - 1) / perPage)
        let slice = Array(items.dropFirst((page - 1) * perPage).prefix(perPage))
        var response = json(.ok, slice)
        response.headers[HTTPField.Name("X-WP-Total")!] = String(items.count)
        if !state.withLock({ $0.omitTotalPages }) { response.headers[HTTPField.Name("X-WP-TotalPages")!] = String(totalPages) }
        var links: [String] = []
        if page < totalPages { links.append("<\(url)\(path)?page=\(page + 1)>; rel=\"next\"") }
        if page > 1 { links.append("<\(url)\(path)?page=\(page - 1)>; rel=\"prev\"") }
        if !links.isEmpty { response.headers[HTTPField.Name("Link")!] = links.joined(separator: ", ") }
        return response
    }

    func json(_ status: HTTPResponse.Status, _ value: Any) -> Response {
        let data = try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        var response = Response(status: status, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        response.headers[.contentType] = "application/json"
        return response
    }

    private func notFound() -> Response {
        json(.notFound, ["code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID."])
    }

    enum KeyAccess { case read, readWrite }

    /// WC_REST_Authentication::check_oauth_signature, for HMAC-SHA256, as `Tests/Peers/woocommerce_oauth_check.py`
    /// writes it out: the request as it arrived (its method too), this store's address, the keys it names.
    /// Returns what those keys may do, or `nil` when the signature is not valid.
    func verifyOAuth(_ request: Request) async -> KeyAccess? {
        let target = "\(url)\(request.uri.path)\(request.uri.query.map { "?\($0)" } ?? "")"
        let managing = request.uri.queryParameters["oauth_consumer_key"].map(String.init) == Self.manageKey
        let valid = (try? await Self.checkOAuth(method: request.method.rawValue, url: target,
                                               key: managing ? Self.manageKey : Self.consumerKey,
                                               secret: managing ? Self.manageSecret : Self.consumerSecret)) == 0
        return valid ? (managing ? .readWrite : .read) : nil
    }

    /// Runs the independent checker; its exit status (0: valid).
    static func checkOAuth(method: String, url: String, key: String = consumerKey, secret: String = consumerSecret) async throws -> Int32 {
        let checker = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Peers/woocommerce_oauth_check.py").path
        return try await runToCompletion("/usr/bin/env", ["python3", checker, method, url, key, secret])
    }

    // MARK: - Webhooks (`WC_REST_Webhooks_Controller`, v3)

    /// Adds a webhook as WP-admin would (or WooCommerce's own disabling left it); returns its id.
    @discardableResult
    func addWebhook(name: String, status: String = "active", topic: String, deliveryURL: String, secret: String = "admin-secret") -> Int64 {
        state.withLock { state in
            let id = state.nextWebhookID
            state.nextWebhookID += 1
            state.webhooks[id] = Webhook(id: id, name: name, status: status, topic: topic, deliveryURL: deliveryURL, secret: secret,
                                         created: "2026-11-01T10:00:00", modified: "2026-11-01T10:00:00")
            return id
        }
    }

    /// Sends a resource to every active webhook of `topic`, as `WC_Webhook::deliver` does: JSON body, the
    /// `X-WC-Webhook-*` headers, the signature base64(HMAC-SHA256(body, secret)); then, as `failed_delivery`, a
    /// 2xx, 301 or 302 answer resets the failure count, and any other (or none) counts a failure, unless more
    /// than 5 are counted already: then the webhook is disabled. Returns each webhook's answer (0: no answer).
    @discardableResult
    func deliver(topic: String, _ resource: [String: any Sendable]) async throws -> [Int64: Int] {
        let body = try JSONSerialization.data(withJSONObject: resource, options: [.sortedKeys])
        let targets = state.withLock { $0.webhooks.values.filter { $0.topic == topic && $0.status == "active" } }
        var answers: [Int64: Int] = [:]
        for webhook in targets {
            let signature = Data(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(webhook.secret.utf8)))).base64EncodedString()
            var request = HTTPClientRequest(url: webhook.deliveryURL)
            request.method = .POST
            let parts = topic.split(separator: ".").map(String.init)
            for (name, value) in [("Content-Type", "application/json"), ("User-Agent", "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)"),
                                  ("X-WC-Webhook-Source", "\(url)/"), ("X-WC-Webhook-Topic", topic), ("X-WC-Webhook-Resource", parts[0]),
                                  ("X-WC-Webhook-Event", parts.count > 1 ? parts[1] : ""), ("X-WC-Webhook-Signature", signature),
                                  ("X-WC-Webhook-ID", String(webhook.id)), ("X-WC-Webhook-Delivery-ID", UUID().uuidString)] {
                request.headers.add(name: name, value: value)
            }
            request.body = .bytes(ByteBuffer(bytes: Array(body)))
            let code = (try? await HTTPClient.shared.execute(request, timeout: .seconds(10)))
                .map { Int($0.status.code) } ?? 0
            answers[webhook.id] = code
            state.withLock { state in
                guard var stored = state.webhooks[webhook.id] else { return }
                if (200..<303).contains(code) {
                    stored.failureCount = 0
                } else if stored.failureCount > 5 {
                    stored.status = "disabled"
                } else {
                    stored.failureCount += 1
                }
                state.webhooks[webhook.id] = stored
            }
        }
        return answers
    }

    /// Adds an order as the checkout would: the fixture's order with this id, status and creation time (GMT).
    @discardableResult
    func addOrder(id: Int64, status: String, createdGMT: String) throws -> [String: any Sendable] {
        var order = try Self.object("order-created.json")
        order["id"] = id
        order["status"] = status
        order["date_created_gmt"] = createdGMT
        order["date_created"] = createdGMT
        let finished = order
        state.withLock { $0.orders[id] = finished }
        return finished
    }

    /// `GET /orders` as `WC_REST_Orders_Controller` answers it: `after` (with `dates_are_gmt`, compared with
    /// `date_created_gmt`), `status` as a comma-separated list, `orderby=date&order=asc`, paged.
    private func answerOrders(_ query: [String: String], path: String) -> Response {
        let statuses = Set((query["status"] ?? "any").split(separator: ",").map(String.init))
        let after = query["after"] ?? ""
        let orders = state.withLock { $0.orders.values }
            .filter { statuses.contains("any") || statuses.contains($0["status"] as? String ?? "") }
            .filter { query["dates_are_gmt"] == "true" && ($0["date_created_gmt"] as? String ?? "") > after }
            .sorted { ($0["date_created_gmt"] as? String ?? "", "\($0["id"]!)") < ($1["date_created_gmt"] as? String ?? "", "\($1["id"]!)") }
        return list(query["order"] == "desc" ? orders.reversed() : orders, query: query, path: path)
    }

    /// The answer's fields, exactly those of v3 (`prepare_item_for_response`): no secret, no failure count, no API version.
    private func webhookJSON(_ webhook: Webhook) -> [String: any Sendable] {
        let parts = webhook.topic.split(separator: ".").map(String.init)
        return [
            "id": webhook.id, "name": webhook.name, "status": webhook.status, "topic": webhook.topic,
            "resource": parts.first ?? "", "event": parts.count > 1 ? parts[1] : "",
            "hooks": ["woocommerce_\(webhook.topic.replacingOccurrences(of: ".", with: "_"))"],
            "delivery_url": webhook.deliveryURL,
            "date_created": webhook.created, "date_created_gmt": webhook.created,
            "date_modified": webhook.modified, "date_modified_gmt": webhook.modified,
            "_links": ["self": [["href": "\(url)/wp-json/wc/v3/webhooks/\(webhook.id)"]],
                       "collection": [["href": "\(url)/wp-json/wc/v3/webhooks"]]],
        ]
    }

    private static let validTopics: Set<String> = [
        "coupon.created", "coupon.updated", "coupon.deleted", "coupon.restored", "customer.created", "customer.updated",
        "customer.deleted", "order.created", "order.updated", "order.deleted", "order.restored", "product.created",
        "product.updated", "product.deleted", "product.restored",
    ]

    private func answerWebhooks(_ request: Request, body: [UInt8]) -> Response {
        let parts = request.uri.path.split(separator: "/").dropFirst(3).map(String.init)  // after wp-json/wc/v3
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        let fields = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        func field(_ name: String) -> String? { (fields[name] as? String).flatMap { $0.isEmpty ? nil : $0 } }
        func invalid(_ code: String, _ message: String, _ status: HTTPResponse.Status = .badRequest) -> Response {
            json(status, ["code": "woocommerce_rest_shop_webhook_\(code)", "message": message, "data": ["status": status.code]])
        }
        let validURL = { (text: String) in text.hasPrefix("http://") || text.hasPrefix("https://") }
        switch (request.method, parts.count) {
        case (.get, 1):
            let status = query["status"] ?? "all"
            let all = state.withLock { $0.webhooks.values.sorted { $0.id > $1.id } }  // newest first, as WooCommerce lists
            return list(all.filter { status == "all" || $0.status == status }.map(webhookJSON), query: query, path: request.uri.path)
        case (.post, 1):
            guard let topic = field("topic"), Self.validTopics.contains(topic.lowercased()) else {
                return invalid("invalid_topic", "Webhook topic is required and must be valid.")
            }
            guard let delivery = field("delivery_url"), validURL(delivery) else {
                return invalid("invalid_delivery_url", "Webhook delivery URL must be a valid URL starting with http:// or https://.")
            }
            let id = addWebhook(name: field("name") ?? "Webhook created on Nov 30, 2026 @ 10:00 AM", status: "active", topic: topic,
                                deliveryURL: delivery, secret: field("secret") ?? UUID().uuidString)
            let created = state.withLock { state in
                state.writes.append("POST webhooks")
                return state.webhooks[id]!
            }
            return json(.created, webhookJSON(created))
        case (.put, 2):
            guard let id = Int64(parts[1]), state.withLock({ $0.webhooks[id] }) != nil else { return invalid("invalid_id", "ID is invalid.") }
            if let topic = field("topic"), !Self.validTopics.contains(topic.lowercased()) { return invalid("invalid_topic", "Webhook topic must be valid.") }
            if let delivery = field("delivery_url"), !validURL(delivery) {
                return invalid("invalid_delivery_url", "Webhook delivery URL must be a valid URL starting with http:// or https://.")
            }
            if let status = field("status"), !["active", "paused", "disabled"].contains(status) {
                return invalid("invalid_status", "Webhook status must be valid.")
            }
            let updated = state.withLock { state in
                var webhook = state.webhooks[id]!
                if let topic = field("topic") { webhook.topic = topic }
                if let delivery = field("delivery_url") { webhook.deliveryURL = delivery }
                if let secret = field("secret") { webhook.secret = secret }
                if let status = field("status") { webhook.status = status }  // the failure count stays (as in WooCommerce)
                if let name = field("name") { webhook.name = name }
                webhook.modified = "2026-11-30T12:00:00"
                state.webhooks[id] = webhook
                state.writes.append("PUT webhooks/\(id)")
                return webhook
            }
            return json(.ok, webhookJSON(updated))
        case (.delete, 2):
            guard query["force"] == "true" else {
                return json(.notImplemented, ["code": "woocommerce_rest_trash_not_supported", "message": "Webhooks do not support trashing."])
            }
            guard let id = Int64(parts[1]), let removed = state.withLock({ $0.webhooks.removeValue(forKey: id) }) else {
                return invalid("invalid_id", "Invalid ID.", .notFound)
            }
            state.withLock { $0.writes.append("DELETE webhooks/\(id)") }
            return json(.ok, webhookJSON(removed))
        default:
            return notFound()
        }
    }
}
