public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Parsing
import Synchronization

/// The WooCommerce REST API v3 (`/wp-json/wc/v3`) as wooqueue uses it: products, variations and orders, page by
/// page, and the store's webhooks (read, and with managing keys created, changed and deleted).
///
/// Authentication follows `woocommerce.authentication`: HTTP Basic with the consumer key and secret over https,
/// the same as query parameters where a server drops the Authorization header, or OAuth 1.0a (HMAC-SHA256, one
/// legged) over plain http. 5xx, 429 and network errors are retried with backoff (honouring `Retry-After`, in
/// seconds or as an HTTP date); 401,
/// 403 and 404 fail at once with what to check, and so does a TLS certificate the client does not trust
/// (`woocommerce.caFile` names the CA of a store with a private one).
public final class WooCommerceClient: Sendable {
    public let settings: WooCommerceSettings
    let http: HTTPClient
    let logger: Logger
    /// The store's REST budget every request waits for, shared with other processes; `nil`: none.
    let budget: (any RequestBudget)?
    /// Attempts per request, and the first backoff delay (doubling).
    let attempts: Int
    let firstDelay: Duration
    /// Until when every request of this client waits, after the store answered 429 or 503: requests sent side by
    /// side (bootstrap's pages) all back off, not only the one that was told to.
    private let quietUntil = Mutex<ContinuousClock.Instant?>(nil)

    /// - Parameter http: the client to send with; the caller owns it. Default: a process-wide client for stores
    ///   (``StoreHTTPClients``) that trusts the system's certificate authorities, or `woocommerce.caFile`'s.
    /// - Parameter budget: what each request waits for before it is sent (``RequestBudget``).
    public init(settings: WooCommerceSettings, http: HTTPClient? = nil, budget: (any RequestBudget)? = nil, logger: Logger,
                attempts: Int = 5, firstDelay: Duration = .milliseconds(500)) throws {
        guard !settings.url.isEmpty else {
            throw WooCommerceError.notConfigured
        }
        guard !settings.consumerKey.isEmpty, !settings.consumerSecret.isEmpty else {
            throw WooCommerceError.missingKeys
        }
        let secure = settings.url.lowercased().hasPrefix("https://")
        if !secure, settings.authentication == .basic || settings.authentication == .query {
            throw WooCommerceError.insecureAuthentication(settings.authentication.rawValue)
        }
        self.settings = settings
        self.http = try http ?? StoreHTTPClients.client(trusting: settings.caFile.isEmpty ? nil : settings.caFile)
        self.logger = logger
        self.budget = budget
        self.attempts = attempts
        self.firstDelay = firstDelay
    }

    /// One page of a collection, with WooCommerce's paging headers.
    public struct Page: Sendable {
        /// The raw JSON of each element, in order.
        public var items: [[UInt8]]
        /// `X-WP-Total` and `X-WP-TotalPages`.
        public var total: Int?
        public var totalPages: Int?
        /// The `Link` header's `rel="next"` target, when there is one.
        public var next: String?
        /// Whether a `Link` header came at all.
        public var hasLinks: Bool

        /// Whether another page follows page `number`: by `X-WP-TotalPages`, else by a `rel="next"` link, else
        /// (no paging headers) as long as pages are not empty.
        public func hasMore(after number: Int) -> Bool {
            if let totalPages { return number < totalPages }
            if hasLinks { return next != nil }
            return !items.isEmpty
        }
    }

    /// Filters of the products listing.
    public struct ProductQuery: Sendable {
        public var modifiedAfter: String?
        public init(modifiedAfter: String? = nil) { self.modifiedAfter = modifiedAfter }

        var parameters: [(String, String)] {
            var parameters = [("orderby", "id"), ("order", "asc")]
            if let modifiedAfter { parameters += [("modified_after", modifiedAfter), ("dates_are_gmt", "true")] }
            return parameters
        }
    }

    /// How many products the store has (`X-WP-Total` of a one-product page), or `nil` if it does not say.
    public func productCount() async throws -> Int? {
        try await list("products", parameters: [("page", "1"), ("per_page", "1")]).total
    }

    /// `GET /products?page=N` (ordered by id, so a resumed walk sees the same pages).
    public func products(page: Int, query: ProductQuery = ProductQuery()) async throws -> Page {
        try await list("products", parameters: query.parameters + [("page", String(page)), ("per_page", String(settings.perPage))])
    }

    /// `GET /products/<id>/variations?page=N`.
    public func variations(of productID: Int64, page: Int, query: ProductQuery = ProductQuery()) async throws -> Page {
        try await list("products/\(productID)/variations",
                       parameters: query.parameters + [("page", String(page)), ("per_page", String(settings.perPage))])
    }

    /// Every variation of a variable product, all pages.
    public func allVariations(of productID: Int64, query: ProductQuery = ProductQuery()) async throws -> [[UInt8]] {
        var items: [[UInt8]] = []
        var page = 1
        while true {
            let result = try await variations(of: productID, page: page, query: query)
            items += result.items
            if result.items.isEmpty || !result.hasMore(after: page) { return items }
            page += 1
        }
    }

    /// `GET /orders`: orders created after `createdAfterGMT` (ISO time, GMT) with one of `statuses`, oldest first.
    public func orders(createdAfterGMT: String, statuses: [String], page: Int) async throws -> Page {
        try await list("orders", parameters: [
            ("after", createdAfterGMT), ("dates_are_gmt", "true"), ("orderby", "date"), ("order", "asc"),
            ("status", statuses.joined(separator: ",")), ("page", String(page)), ("per_page", String(settings.perPage)),
        ])
    }

    /// `GET /products/<id>`, or `/products/<parent>/variations/<id>` for a variation.
    public func product(id: Int64, parentID: Int64?) async throws -> [UInt8] {
        let path = parentID.map { "products/\($0)/variations/\(id)" } ?? "products/\(id)"
        return try await get(path, parameters: []).body
    }

    // MARK: - Requests

    func list(_ path: String, parameters: [(String, String)]) async throws -> Page {
        let (body, headers) = try await get(path, parameters: parameters)
        // Keep each element's exact bytes: they become job payloads as a webhook body would. One scan both checks
        // the page is a JSON list and finds its elements.
        var items: [[UInt8]] = []
        do {
            try JSONScanner.forEachElement(of: body, in: 0..<body.count) { element in
                items.append(Array(body[element]))
                return true
            }
        } catch {
            throw WooCommerceError.unexpectedBody(path: path, String(decoding: body.prefix(200), as: UTF8.self))
        }
        return Page(items: items, total: headers.first(name: "X-WP-Total").flatMap { Int($0) },
                    totalPages: headers.first(name: "X-WP-TotalPages").flatMap { Int($0) },
                    next: Self.nextLink(headers.first(name: "Link")), hasLinks: headers.first(name: "Link") != nil)
    }

    func get(_ path: String, parameters: [(String, String)]) async throws -> (body: [UInt8], headers: HTTPHeaders) {
        try await send(.GET, path, parameters: parameters)
    }

    /// One request, retried on 5xx, 429 and network errors with backoff (honouring `Retry-After`), except a `POST`:
    /// it creates, and a retry after a lost answer could create twice, so it is sent once.
    func send(_ method: HTTPMethod, _ path: String, parameters: [(String, String)] = [], json body: [UInt8]? = nil) async throws
        -> (body: [UInt8], headers: HTTPHeaders) {
        var delay = firstDelay
        var attempt = 1
        let attempts = method == .POST ? 1 : self.attempts
        while true {
            if let until = heldOffUntil { try await Task.sleep(until: until, clock: .continuous) }
            let url = requestURL(path, parameters: parameters, method: method.rawValue)
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "wooqueue")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            if authentication == .basic {
                let token = Data("\(settings.consumerKey):\(settings.consumerSecret)".utf8).base64EncodedString()
                request.headers.add(name: "Authorization", value: "Basic \(token)")
            }
            // nil: not sent, because a 429 or 503 came while it waited for its permit; it waits out the hold first.
            let exchange: @Sendable () async -> Result<(HTTPResponseStatus, HTTPHeaders, [UInt8]), any Error>? = { [self, request] in
                if heldOffUntil != nil { return nil }
                do {
                    let response = try await http.execute(request, timeout: TimeAmount(settings.timeout))
                    let body = try await response.body.collect(upTo: 64 << 20)
                    return .success((response.status, response.headers, Array(buffer: body)))
                } catch {
                    return .failure(error)
                }
            }
            // The request's own failures come back in the result; what the budget throws (Redis away) ends the
            // request as it is, without retries here.
            let sent: Result<(HTTPResponseStatus, HTTPHeaders, [UInt8]), any Error>?
            if let budget { sent = try await budget.withPermit(exchange) } else { sent = await exchange() }
            guard let outcome = sent else { continue }
            let retryAfter: Duration?
            switch outcome {
            case .success(let (status, headers, body)):
                switch status.code {
                case 200..<300: return (body, headers)
                case 401, 403: throw WooCommerceError.unauthorized(status: Int(status.code), path: path, Self.message(body))
                case 404: throw WooCommerceError.notFound(path: path, Self.message(body))
                case 408, 429, 500..<600:
                    // Seconds or an HTTP date; the wait below is capped at a minute either way.
                    retryAfter = headers.first(name: "Retry-After")
                        .flatMap { RetryAfter.seconds($0, now: Int64(Date().timeIntervalSince1970), cap: 60) }.map { .seconds($0) }
                    if status.code == 429 || status.code == 503 { holdOff(for: min(retryAfter ?? delay, .seconds(60))) }
                    if attempt >= attempts { throw WooCommerceError.unavailable(path: path, "HTTP \(status.code) \(Self.message(body))") }
                default: throw WooCommerceError.rejected(status: Int(status.code), path: path, Self.message(body))
                }
                logger.warning("WooCommerce answered \(status.code); retrying", metadata: ["path": "\(path)", "attempt": "\(attempt)"])
            case .failure(let error) where Self.isCertificateFailure(error):
                // Trying again cannot help: only a setting can.
                throw WooCommerceError.certificate(path: path, "\(error)", caFile: settings.caFile)
            case .failure(let error):
                if attempt >= attempts { throw WooCommerceError.unavailable(path: path, "\(error)") }
                logger.warning("WooCommerce request failed; retrying", metadata: ["path": "\(path)", "attempt": "\(attempt)", "error": "\(error)"])
                retryAfter = nil
            }
            try await Task.sleep(for: min(retryAfter ?? delay, .seconds(60)))
            delay = delay * 2
            attempt += 1
        }
    }

    /// When a 429 or 503 holds this client's requests back, until when; nil when none does.
    private var heldOffUntil: ContinuousClock.Instant? {
        quietUntil.withLock { until in until.flatMap { $0 > .now ? $0 : nil } }
    }

    /// Makes every request of this client wait `wait` from now before it is sent (unless it waits longer already).
    private func holdOff(for wait: Duration) {
        let until = ContinuousClock.now + wait
        quietUntil.withLock { current in
            if current.map({ $0 < until }) ?? true { current = until }
        }
    }

    /// A TLS handshake the store's certificate failed: not trusted, expired, or for another name.
    static func isCertificateFailure(_ error: any Error) -> Bool {
        switch error {
        case NIOSSLError.handshakeFailed: true
        case is NIOSSLExtraError: true
        default: false
        }
    }

    var authentication: WooCommerceSettings.Authentication {
        guard settings.authentication == .auto else { return settings.authentication }
        return settings.url.lowercased().hasPrefix("https://") ? .basic : .oauth
    }

    /// The full URL with the query, signed for OAuth or with the keys for query authentication.
    func requestURL(_ path: String, parameters: [(String, String)], method: String = "GET",
                    timestamp: Int64 = Int64(Date().timeIntervalSince1970),
                    nonce: String = UUID().uuidString.replacingOccurrences(of: "-", with: "")) -> String {
        let base = "\(settings.url)/wp-json/wc/v3/\(path)"
        var query = parameters
        switch authentication {
        case .query:
            query += [("consumer_key", settings.consumerKey), ("consumer_secret", settings.consumerSecret)]
        case .oauth:
            query += OAuth1.parameters(method: method, url: base, query: query, consumerKey: settings.consumerKey,
                                       consumerSecret: settings.consumerSecret, timestamp: timestamp, nonce: nonce)
        case .basic, .auto:
            break
        }
        if query.isEmpty { return base }
        return base + "?" + query.map { "\(OAuth1.percentEncode($0.0))=\(OAuth1.percentEncode($0.1))" }.joined(separator: "&")
    }

    /// The target of `rel="next"` in a `Link` header.
    static func nextLink(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ",") where part.contains("rel=\"next\"") {
            guard let open = part.firstIndex(of: "<"), let close = part.firstIndex(of: ">") else { continue }
            return String(part[part.index(after: open)..<close])
        }
        return nil
    }

    /// WooCommerce's error message (`{"code": …, "message": …}`), or the start of the body.
    static func message(_ body: [UInt8]) -> String {
        if let value = try? JSONValue.parse(body), case .string(let message)? = value["message"] { return message }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}

/// What went wrong talking to the store, and what to check.
public enum WooCommerceError: Error, CustomStringConvertible, Sendable {
    case notConfigured
    case missingKeys
    case missingManageKeys
    case insecureAuthentication(String)
    case unauthorized(status: Int, path: String, String)
    case notFound(path: String, String)
    case rejected(status: Int, path: String, String)
    case unavailable(path: String, String)
    case unexpectedBody(path: String, String)
    case certificate(path: String, String, caFile: String)
    case unreadableCAFile(String, String)

    public var description: String {
        switch self {
        case .notConfigured:
            "the store's REST API is not configured: set woocommerce.url (or WOOQUEUE_WOO_URL)"
        case .missingKeys:
            "woocommerce.consumerKey and consumerSecret (or WOOQUEUE_WOO_KEY / WOOQUEUE_WOO_SECRET) are needed: create them under WooCommerce → Settings → Advanced → REST API, with Read access"
        case .missingManageKeys:
            """
            changing the store's webhooks needs REST keys with Read/Write access of a user who can manage WooCommerce: \
            create them under WooCommerce → Settings → Advanced → REST API and set woocommerce.manageKey and \
            manageSecret (or WOOQUEUE_WOO_MANAGE_KEY / WOOQUEUE_WOO_MANAGE_SECRET); the everyday keys stay read-only
            """
        case .insecureAuthentication(let mode):
            "woocommerce.authentication \"\(mode)\" sends the keys in clear: use an https:// store URL, or \"oauth\" over http"
        case .unauthorized(let status, let path, let message):
            "WooCommerce refused the keys (HTTP \(status)) for \(path): \(message). Check the consumer key and secret and that they have Read access"
        case .notFound(let path, let message):
            "WooCommerce has no \(path) (HTTP 404): \(message). Check woocommerce.url and that pretty permalinks (/wp-json/) are on"
        case .rejected(let status, let path, let message):
            "WooCommerce answered HTTP \(status) for \(path): \(message)"
        case .unavailable(let path, let reason):
            "the store did not answer \(path) after several tries: \(reason)"
        case .unexpectedBody(let path, let start):
            "WooCommerce's answer for \(path) is not a JSON list: \(start)"
        case .certificate(let path, let reason, let caFile):
            """
            the store's TLS certificate was refused for \(path) (\(reason)). \(caFile.isEmpty
                ? "If the store's certificate comes from a private CA, set woocommerce.caFile (or SSL_CERT_FILE) to that CA's PEM file"
                : "It does not chain to a CA in \(caFile): set woocommerce.caFile to the CA that signed it"); \
            if the name does not match, use in woocommerce.url the name the certificate was issued for
            """
        case .unreadableCAFile(let path, let reason):
            "cannot read woocommerce.caFile \(path): \(reason). It must be a readable PEM file of CA certificates"
        }
    }
}

/// The HTTP clients for stores: one per set of trusted authorities (the system's, or a CA file's), made once and
/// kept for the process's life (as `HTTPClient.shared` is), so no client is dropped without being shut down.
///
/// A connection that cannot be made fails its request at once (`retryConnectionEstablishment` off): the client's
/// own loop retries network errors with backoff, and a refused certificate must not be retried for a whole
/// request timeout inside the connection pool.
enum StoreHTTPClients {
    private static let clients = Mutex<[String: HTTPClient]>([:])

    /// - Parameter caFile: a PEM file of the authorities to trust instead of the system's; `nil`: the system's.
    static func client(trusting caFile: String?) throws -> HTTPClient {
        try clients.withLock { clients in
            if let client = clients[caFile ?? ""] { return client }
            var tls = TLSConfiguration.makeClientConfiguration()
            if let caFile {
                let authorities: [NIOSSLCertificate]
                do {
                    authorities = try NIOSSLCertificate.fromPEMFile(caFile)
                } catch {
                    throw WooCommerceError.unreadableCAFile(caFile, "\(error)")
                }
                guard !authorities.isEmpty else { throw WooCommerceError.unreadableCAFile(caFile, "it holds no certificate") }
                tls.trustRoots = .certificates(authorities)
            }
            var configuration = HTTPClient.Configuration.singletonConfiguration
            configuration.tlsConfiguration = tls
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[caFile ?? ""] = client
            return client
        }
    }
}

/// A budget of requests shared by everything that calls the store (every process and command): a request runs
/// inside ``withPermit(_:)``, which waits until the budget allows it. Implemented over Redis by the caller; an
/// error it throws (the budget could not be asked) ends the request unsent.
public protocol RequestBudget: Sendable {
    func withPermit<T: Sendable>(_ request: @Sendable () async throws -> T) async throws -> T
}
