import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TestSupport

/// A small real WooCommerce REST API v3: products and variations from the fixtures, paged with the real headers
/// (`X-WP-Total`, `X-WP-TotalPages`, `Link`), `modified_after` filtering, and OAuth 1.0a checked as WooCommerce
/// checks it (re-implemented here from WooCommerce's PHP, independently of the client under test).
final class FakeStore: Sendable {
    static let consumerKey = "ck_test_4f2a"
    static let consumerSecret = "cs_test_9b1c"

    struct State: Sendable {
        /// Products by id, as JSON objects.
        var products: [Int64: [String: any Sendable]] = [:]
        /// Variations by parent id.
        var variations: [Int64: [[String: any Sendable]]] = [:]
        /// Answer this products page with 401 (a stand-in for an interruption).
        var failPage: Int?
        /// Leave out `X-WP-TotalPages`, so clients must follow the `Link` header.
        var omitTotalPages = false
        /// Requests seen: path and query.
        var requests: [(path: String, query: [String: String])] = []
    }

    let state = Mutex(State())
    let port: Int
    private let group: ServiceGroup

    private init(port: Int, group: ServiceGroup) {
        self.port = port
        self.group = group
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The fixture catalogue: 794, 801, 802, 803 (no SKU), 900 (variable) with variations 901 and 902.
    static func start() async throws -> FakeStore {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let box = Box()
        let router = Router()
        router.get("wp-json/wc/v3/**") { request, _ -> Response in
            guard let store = box.store else { return Response(status: .serviceUnavailable) }
            // The signature is checked by an independent port of WooCommerce's own check, not by a second reading of
            // wooqueue's signer (the two once shared a bug that only a real store found).
            guard await store.verifyOAuth(request) else {
                return store.json(.unauthorized, ["code": "woocommerce_rest_authentication_error",
                                                  "message": "Invalid signature - provided signature does not match."])
            }
            return store.answer(request)
        }
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

    private func answer(_ request: Request) -> Response {
        let path = request.uri.path
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        state.withLock { $0.requests.append((path, query)) }
        let parts = path.split(separator: "/").dropFirst(3).map(String.init)  // after wp-json/wc/v3
        let snapshot = state.withLock { $0 }
        switch parts.count {
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

    /// WC_REST_Authentication::check_oauth_signature, for HMAC-SHA256, as `Tests/Peers/woocommerce_oauth_check.py`
    /// writes it out: the request as it arrived, this store's address, its keys.
    func verifyOAuth(_ request: Request) async -> Bool {
        let target = "\(url)\(request.uri.path)\(request.uri.query.map { "?\($0)" } ?? "")"
        return (try? await Self.checkOAuth(method: "GET", url: target)) == 0
    }

    /// Runs the independent checker; its exit status (0: valid).
    static func checkOAuth(method: String, url: String) async throws -> Int32 {
        let checker = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Peers/woocommerce_oauth_check.py").path
        return try await runToCompletion("/usr/bin/env", ["python3", checker, method, url, consumerKey, consumerSecret])
    }
}
