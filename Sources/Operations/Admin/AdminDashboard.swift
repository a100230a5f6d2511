import HTTPServer
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Parsing
import QueueCore
import Routing
import Synchronization

/// What the dashboard reads from the store and the ERP table, and the comparison it can start.
public struct CatalogueAccess: Sendable {
    /// `inv_items` rows.
    public var tableRows: @Sendable () async throws -> Int
    /// Store products (`X-WP-Total`); `nil` when the store's REST API is not configured.
    public var storeProducts: (@Sendable () async throws -> Int?)?
    /// Runs `bootstrap` (compare, enqueue what is missing), reporting progress lines, and returns its summary;
    /// `nil` when the store's REST API is not configured.
    public var compare: (@Sendable (_ progress: @escaping @Sendable (String) -> Void) async throws -> String)?

    public init(tableRows: @escaping @Sendable () async throws -> Int, storeProducts: (@Sendable () async throws -> Int?)?,
                compare: (@Sendable (_ progress: @escaping @Sendable (String) -> Void) async throws -> String)?) {
        self.tableRows = tableRows
        self.storeProducts = storeProducts
        self.compare = compare
    }
}

/// `GET /admin`: the operators' screen, server-rendered, with no external resource. The overview refreshes its
/// figures every 3 s without reloading the page; the dead-letter review lists, filters, shows, retries, deletes
/// and exports dead jobs. Every request passes ``AdminAccess``; every form carries its CSRF token.
public final class AdminDashboard: Sendable {
    private let store: QueueStore
    private let queues: [WooqueueConfiguration.QueueSettings]
    /// Queues with dead-letter lists: the configured ones and the intake's list of unroutable deliveries.
    private let deadLetterQueues: [String]
    private let access: AdminAccess
    private let deadLetterReview: DeadLetterReview
    private let catalogue: CatalogueAccess?
    private let logger: Logger
    private let comparison = Mutex<ComparisonState>(ComparisonState())
    private let cachedStoreProducts = Mutex<(at: ContinuousClock.Instant, count: Int?)?>(nil)

    private struct ComparisonState {
        var running = false
        var lines: [String] = []
    }

    public init(configuration: WooqueueConfiguration, store: QueueStore, access: AdminAccess, catalogue: CatalogueAccess?, logger: Logger) {
        self.store = store
        queues = configuration.queues
        deadLetterQueues = DeadLetterReview.queues(configuration)
        deadLetterReview = DeadLetterReview(configuration: configuration, store: store)
        self.access = access
        self.catalogue = catalogue
        self.logger = logger
    }

    public func register(on router: some RouterMethods<ServerContext>) {
        let admin = router.group("/admin")
        admin.get { request, context in
            try await self.guarded(request, context) { principal in
                try await self.overview(done: request.uri.queryParameters["done"].map(String.init), principal: principal)
            }
        }
        admin.get("live") { request, context in try await self.guarded(request, context) { try await self.live($0) } }
        admin.get("assets/admin.css") { request, context in
            try await self.guarded(request, context) { _ in Self.asset(HTML.stylesheet, contentType: "text/css; charset=utf-8") }
        }
        admin.get("assets/admin.js") { request, context in
            try await self.guarded(request, context) { _ in Self.asset(HTML.refreshScript, contentType: "text/javascript; charset=utf-8") }
        }
        admin.post("process-now") { request, context in
            try await self.guardedForm(request, context) { _, _ in
                let moved = try await self.store.promoteDue(queues: self.queues.map(\.name), now: .max)
                return Self.redirect("/admin?done=\(HTML.query("\(moved) delayed or retrying jobs moved to ready"))")
            }
        }
        admin.post("compare") { request, context in
            try await self.guardedForm(request, context) { _, _ in
                self.startComparison()
                return Self.redirect("/admin")
            }
        }
        admin.get("dlq") { request, context in
            try await self.guarded(request, context) { principal in
                try await self.deadLetterList(DeadLetterQuery(request.uri.queryParameters), principal: principal,
                                              message: request.uri.queryParameters["done"].map(String.init))
            }
        }
        admin.get("dlq/job") { request, context in
            try await self.guarded(request, context) { principal in
                let query = request.uri.queryParameters
                return try await self.deadLetterJob(queue: query["queue"].map(String.init) ?? "", id: query["id"].map(String.init) ?? "",
                                                    principal: principal)
            }
        }
        admin.get("dlq/export") { request, context in
            try await self.guarded(request, context) { _ in try await self.export(DeadLetterQuery(request.uri.queryParameters)) }
        }
        for action in ["retry", "delete"] {
            admin.post(RouterPath("dlq/\(action)")) { request, context in
                try await self.guardedForm(request, context) { form, principal in try await self.review(action, form, principal: principal) }
            }
        }
    }

    // MARK: - Access

    /// Runs `body` for a request that ``AdminAccess`` lets in, with whom it let in.
    private func guarded(_ request: Request, _ context: ServerContext, _ body: (AdminAccess.Principal) async throws -> Response) async throws -> Response {
        switch access.check(request, context, scope: .admin) {
        case .allowed(let principal): return try await body(principal)
        case .denied(let denial): return AdminAccess.refusal(denial, scope: .admin)
        }
    }

    /// The largest form body: a dead-letter selection of a few thousand ids.
    static let longestForm = 256 << 10

    /// A state-changing POST, checked in this order before anything is done: credentials; a form's content type;
    /// a request from this page's own origin (a page of another site may send a form from the operator's browser,
    /// so `Sec-Fetch-Site` must be `same-origin` and `Origin`, when sent, must name this host); the body's size;
    /// then the form is read (strictly, without trapping) and its CSRF token checked.
    private func guardedForm(_ request: Request, _ context: ServerContext,
                             _ body: (FormFields, AdminAccess.Principal) async throws -> Response) async throws -> Response {
        try await guarded(request, context) { principal in
            let contentType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard contentType == "application/x-www-form-urlencoded" else {
                return Self.text(415, "a form must be sent as application/x-www-form-urlencoded\n")
            }
            if let site = request.headers[.secFetchSite], site != "same-origin" {
                return Self.text(403, "this form came from another site (Sec-Fetch-Site: \(site.prefix(20))); use the dashboard's own pages\n")
            }
            if let origin = request.headers[.origin], !Self.origin(origin, matches: request.head.authority) {
                return Self.text(403, "this form came from another origin; use the dashboard's own pages\n")
            }
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > Self.longestForm {
                return Self.text(413, "the form is larger than \(Self.longestForm) bytes\n")
            }
            let bytes: ByteBuffer
            do {
                bytes = try await request.body.collect(upTo: Self.longestForm)
            } catch is NIOTooManyBytesError {
                return Self.text(413, "the form is larger than \(Self.longestForm) bytes\n")
            }
            let form: FormFields
            do {
                form = try FormFields(decoding: bytes.readableBytesView)
            } catch {
                return Self.text(400, "\(error)\n")
            }
            guard access.isValidCSRF(form.value("csrf"), for: principal) else {
                return Self.text(403, "this form's CSRF token is missing, expired or made for another login: reload the page and try again\n")
            }
            return try await body(form, principal)
        }
    }

    /// Whether an `Origin` header (`http://host:port`) names the host the request was sent to.
    static func origin(_ origin: String, matches authority: String?) -> Bool {
        guard let authority, let separator = origin.range(of: "://") else { return false }
        return origin[separator.upperBound...].lowercased() == authority.lowercased()
    }

    // MARK: - Overview

    private func overview(done: String?, principal: AdminAccess.Principal) async throws -> Response {
        let message = done.map { "<section class=\"ok\">\(HTML.escape($0))</section>" } ?? ""
        let body = "\(message)<div id=\"live\" data-refresh=\"/admin/live\">\(try await liveHTML(principal))</div>"
        return Self.html(HTML.page(title: "wooqueue", body: body, refreshes: true))
    }

    private func live(_ principal: AdminAccess.Principal) async throws -> Response {
        Self.html(try await liveHTML(principal))
    }

    private func liveHTML(_ principal: AdminAccess.Principal) async throws -> String {
        let snapshot = try await store.snapshot(queues: queues, latestEvents: 20)
        let firing = try await store.firingAlerts()
        var html = ""
        if principal == .loopback {
            html += "<section class=\"notice\">You are in without credentials because <code>admin.allowLoopbackWithoutCredentials</code> is set: anyone who can reach this host's loopback interface can. Set <code>admin.token</code> or <code>admin.user</code>/<code>admin.password</code> and turn it off on a shared host.</section>"
        }
        if firing.isEmpty {
            html += "<section class=\"ok\" id=\"alerts\">No alert holds.</section>"
        } else {
            html += "<section class=\"alert\" id=\"alerts\"><h2>Alerts</h2><ul>" + firing.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul></section>"
        }
        html += try await catalogueHTML(principal)
        let queueRows = snapshot.queues.map { queue -> [String] in
            let age = queue.oldestReadyAgeMillis.map { "\($0 / 1000) s" } ?? "–"
            let ageCell = queue.isLate ? "<span class=\"late\">\(age)</span>" : age
            return [HTML.escape(queue.name), "\(queue.ready)", "\(queue.active)", "\(queue.delayed)",
                    queue.dead > 0 ? "<a href=\"/admin/dlq?queue=\(HTML.query(queue.name))\">\(queue.dead)</a>" : "0",
                    "\(queue.done)", "\(queue.failed)", "\(ageCell) / \(queue.maxDelayMillis / 1000) s"]
        }
        html += "<section id=\"queues\"><h2>Queues</h2>" + HTML.table(
            ["queue", "ready", "active", "delayed", "dead", "done", "failed", "oldest ready / max delay"], queueRows, empty: "No queue.")
        html += "<form class=\"inline\" method=\"post\" action=\"/admin/process-now\">\(csrfField(principal))<button>Process queue now</button></form>"
        html += " <span class=\"muted\">moves every delayed and retrying job to ready at once</span></section>"
        let processRows = snapshot.processes.map { process -> [String] in
            let record = process.record
            return [HTML.escape(record.host), "\(record.pid)",
                    HTML.escape(zip(record.queues, record.workers).map { "\($0)×\($1)" }.joined(separator: " ")),
                    HTML.time(record.heartbeatAt), process.alive ? "live" : "<span class=\"late\">silent</span>"]
        }
        html += "<section id=\"processes\"><h2>Worker processes</h2>" + HTML.table(
            ["host", "pid", "queues", "last heartbeat (UTC)", "state"], processRows, empty: "No worker process is registered.") + "</section>"
        let eventRows = snapshot.events.map { event -> [String] in
            [HTML.time(event.at), HTML.escape(event.queue), HTML.escape(event.key ?? event.type), HTML.escape(event.event),
             HTML.escape(event.status), "\(event.attempt)", HTML.escape(event.error ?? "")]
        }
        html += "<section id=\"events\"><h2>Latest events</h2>" + HTML.table(
            ["at (UTC)", "queue", "SKU or key", "event", "status", "attempts", "error"], eventRows, empty: "No event yet.") + "</section>"
        return html
    }

    private func catalogueHTML(_ principal: AdminAccess.Principal) async throws -> String {
        guard let catalogue else { return "" }
        let counts = await catalogueCounts(catalogue)
        var html = "<section id=\"catalogue\"><h2>Catalogue</h2><div class=\"cards\">"
        let store = catalogue.storeProducts == nil ? "not configured" : counts.storeProducts.map(String.init) ?? "?"
        html += "<div class=\"card\">store products<b id=\"store-products\">\(store)</b></div>"
        html += "<div class=\"card\">inv_items rows<b id=\"table-rows\">\(counts.tableRows.map(String.init) ?? "?")</b></div></div>"
        guard catalogue.compare != nil else {
            return html + "<p class=\"muted\">Set woocommerce.url and its keys to see the store's figures and compare it with the table.</p></section>"
        }
        let state = comparison.withLock { $0 }
        if state.running {
            html += "<p>Comparing… " + HTML.escape(state.lines.last ?? "") + "</p>"
        } else {
            html += "<p><form class=\"inline\" method=\"post\" action=\"/admin/compare\">\(csrfField(principal))<button>Compare and enqueue missing</button></form></p>"
            if let last = state.lines.last { html += "<p class=\"muted\">Last comparison: \(HTML.escape(last))</p>" }
        }
        return html + "</section>"
    }

    /// The store and table counts. The table is read at each refresh; the store (a slow REST call) at most once a
    /// minute.
    private func catalogueCounts(_ catalogue: CatalogueAccess) async -> (storeProducts: Int?, tableRows: Int?) {
        let tableRows = try? await catalogue.tableRows()
        if let cached = cachedStoreProducts.withLock({ $0 }), cached.at.duration(to: .now) < .seconds(60) {
            return (cached.count, tableRows)
        }
        let storeProducts = (try? await catalogue.storeProducts?()) ?? nil
        cachedStoreProducts.withLock { $0 = (.now, storeProducts) }
        return (storeProducts, tableRows)
    }

    private func startComparison() {
        guard let compare = catalogue?.compare else { return }
        let started = comparison.withLock { state -> Bool in
            if state.running { return false }
            state = ComparisonState(running: true, lines: ["starting"])
            return true
        }
        guard started else { return }
        Task {
            do {
                let summary = try await compare { line in self.comparison.withLock { $0.lines.append(line) } }
                comparison.withLock { $0 = ComparisonState(running: false, lines: [summary]) }
            } catch {
                logger.error("The comparison from /admin failed", metadata: ["error": "\(error)"])
                comparison.withLock { $0 = ComparisonState(running: false, lines: ["failed: \(error)"]) }
            }
            cachedStoreProducts.withLock { $0 = nil }
        }
    }

    // MARK: - Dead letters

    /// The filters of the dead-letter pages, from a query string or a form.
    struct DeadLetterQuery {
        var queue: String?
        var filter: DeadLetterFilter
        /// Which page of matches the list shows, from 1.
        var page = 1

        init(_ parameters: Parameters) {
            func value(_ name: String) -> String? {
                guard let value = parameters[name[...]].map(String.init), !value.isEmpty else { return nil }
                return value
            }
            queue = value("queue")
            filter = DeadLetterFilter(type: value("type"), key: value("key"), error: value("error"))
            page = value("page").flatMap { Int($0) }.map { min(max($0, 1), 1_000_000) } ?? 1
        }

        init(_ form: FormFields) {
            queue = form.value("queue")
            filter = DeadLetterFilter(type: form.value("type"), key: form.value("key"), error: form.value("error"))
        }

        /// The same filters as a query string.
        var queryString: String {
            [("queue", queue), ("type", filter.type), ("key", filter.key), ("error", filter.error)]
                .compactMap { name, value in value.map { "\(name)=\(HTML.query($0))" } }.joined(separator: "&")
        }
    }

    private func letters(_ query: DeadLetterQuery) async throws -> [DeadLetter] {
        let names = query.queue.map { name in deadLetterQueues.filter { $0 == name } } ?? deadLetterQueues
        return try await store.deadLetters(queues: names, matching: query.filter)
    }

    /// Dead letters shown per page of the review.
    static let pageSize = 100

    private func deadLetterList(_ query: DeadLetterQuery, principal: AdminAccess.Principal, message: String? = nil) async throws -> Response {
        let names = query.queue.map { name in deadLetterQueues.filter { $0 == name } } ?? deadLetterQueues
        let first = (query.page - 1) * Self.pageSize
        let page = try await store.deadLetterPage(queues: names, matching: query.filter, offset: first, limit: Self.pageSize)
        let letters = page.letters
        var html = "<section><h2>Dead letters</h2><form method=\"get\" action=\"/admin/dlq\">"
        html += "<select name=\"queue\"><option value=\"\">all queues</option>"
        for name in deadLetterQueues {
            html += "<option\(query.queue == name ? " selected" : "")>\(HTML.escape(name))</option>"
        }
        html += "</select> "
        for (name, label, value) in [("type", "type", query.filter.type), ("key", "SKU or key", query.filter.key), ("error", "error text", query.filter.error)] {
            html += "<input name=\"\(name)\" placeholder=\"\(label)\" value=\"\(HTML.escape(value ?? ""))\"> "
        }
        html += "<button>Filter</button> <a href=\"/admin/dlq/export?\(query.queryString)\">Export as JSON lines</a></form></section>"
        if let message { html += "<section class=\"ok\">\(HTML.escape(message))</section>" }
        let hidden = hiddenFilters(query)
        html += "<section><form method=\"post\" id=\"review\">\(csrfField(principal))\(hidden)"
        let rows = letters.map { letter -> [String] in
            guard let envelope = letter.envelope else {
                return ["", HTML.escape(letter.queue), "(not an envelope)", "", "", "", HTML.escape(String(decoding: letter.raw.prefix(200), as: UTF8.self))]
            }
            let link = "/admin/dlq/job?queue=\(HTML.query(letter.queue))&id=\(HTML.query(envelope.id))"
            return ["<input type=\"checkbox\" name=\"id\" value=\"\(HTML.escape(envelope.id))\">",
                    "<a href=\"\(link)\">\(HTML.escape(envelope.id))</a>", HTML.escape(letter.queue), HTML.escape(envelope.type),
                    HTML.escape(envelope.key ?? "–"), "\(envelope.attempt)/\(envelope.maxAttempts)", HTML.escape(envelope.lastError ?? "")]
        }
        let shown = letters.isEmpty ? "No dead letter matches\(query.page > 1 ? " on this page" : "")."
            : "Matches \(first + 1)–\(first + letters.count)\(page.hasMore ? "; more follow" : (query.page == 1 ? " of \(letters.count)" : ""))."
        html += "<p class=\"muted\" id=\"shown\">\(shown)</p>"
        html += HTML.table(["", "id", "queue", "type", "key", "attempts", "last error"], rows, empty: "No dead letter matches.")
        if !letters.isEmpty {
            html += """
                <p><button formaction="/admin/dlq/retry">Retry selected</button>
                <button formaction="/admin/dlq/retry" name="all" value="1">Retry all matching</button>
                <button class="danger" formaction="/admin/dlq/delete">Delete selected</button>
                <button class="danger" formaction="/admin/dlq/delete" name="all" value="1">Delete all matching</button></p>
                """
        }
        html += "</form>"
        let filters = query.queryString.isEmpty ? "" : "\(query.queryString)&"
        var links: [String] = []
        if query.page > 1 { links.append("<a rel=\"prev\" href=\"/admin/dlq?\(filters)page=\(query.page - 1)\">← newer</a>") }
        if page.hasMore { links.append("<a rel=\"next\" href=\"/admin/dlq?\(filters)page=\(query.page + 1)\">older →</a>") }
        if !links.isEmpty { html += "<p id=\"pages\">Page \(query.page): \(links.joined(separator: " "))</p>" }
        html += "</section>"
        return Self.html(HTML.page(title: "wooqueue: dead letters", body: html))
    }

    private func deadLetterJob(queue: String, id: String, principal: AdminAccess.Principal) async throws -> Response {
        let letter = try await store.deadLetterPage(queues: deadLetterQueues.filter { $0 == queue }, matching: DeadLetterFilter(id: id),
                                                    offset: 0, limit: 1).letters.first
        guard let letter, let envelope = letter.envelope else {
            return Self.text(404, "no dead letter \(id) in queue \(queue): it may have been retried or deleted\n")
        }
        var html = "<section><h2>Dead letter \(HTML.escape(envelope.id))</h2>"
        let facts: [(String, String)] = [
            ("queue", letter.queue), ("type", envelope.type), ("key", envelope.key ?? "–"), ("source", envelope.source ?? "–"),
            ("attempts", "\(envelope.attempt) of \(envelope.maxAttempts)"), ("recoveries", "\(envelope.recoveries)"),
            ("enqueued (UTC)", HTML.time(envelope.enqueuedAt)), ("first failed (UTC)", HTML.time(envelope.firstFailedAt)),
            ("first error", envelope.firstError ?? "–"), ("last failed (UTC)", HTML.time(envelope.lastFailedAt)),
            ("last error", envelope.lastError ?? "–"), ("dead since (UTC)", HTML.time(envelope.deadAt)),
        ]
        html += HTML.table(["", ""], facts.map { ["<b>\(HTML.escape($0.0))</b>", HTML.escape($0.1)] }, empty: "")
        html += "<h2>Payload</h2><pre>\(HTML.escape(String(decoding: envelope.payload, as: UTF8.self)))</pre>"
        html += "<form method=\"post\">\(csrfField(principal))<input type=\"hidden\" name=\"queue\" value=\"\(HTML.escape(letter.queue))\">"
        html += "<input type=\"hidden\" name=\"id\" value=\"\(HTML.escape(envelope.id))\">"
        html += "<button formaction=\"/admin/dlq/retry\">Retry</button> <button class=\"danger\" formaction=\"/admin/dlq/delete\">Delete</button></form></section>"
        return Self.html(HTML.page(title: "wooqueue: dead letter \(envelope.id)", body: html))
    }

    private func export(_ query: DeadLetterQuery) async throws -> Response {
        var body: [UInt8] = []
        for letter in try await letters(query) {
            body += letter.jsonLine
            body.append(0x0A)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson", .contentTypeOptions: "nosniff", .contentDisposition: #"attachment; filename="wooqueue-dead-letters.jsonl""#],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Retries or deletes the selected jobs (`id` fields), or every match of the filters (`all=1`).
    private func review(_ action: String, _ form: FormFields, principal: AdminAccess.Principal) async throws -> Response {
        let query = DeadLetterQuery(form)
        var letters = try await letters(query)
        if form.value("all") != "1" {
            let ids = Set(form.values("id"))
            guard !ids.isEmpty else { return try await deadLetterList(query, principal: principal, message: "Nothing was selected.") }
            letters = letters.filter { $0.envelope.map { ids.contains($0.id) } ?? false }
        }
        let done: String
        if action == "retry" {
            let outcome = try await deadLetterReview.retry(letters)
            for reason in outcome.stillUnroutable {
                logger.warning("A kept delivery still cannot be routed", metadata: ["reason": "\(reason)"])
            }
            done = outcome.summary
        } else {
            done = "\(try await store.deleteDeadLetters(letters)) deleted"
        }
        logger.notice("Dead letters reviewed from /admin", metadata: ["action": "\(action)", "outcome": "\(done)"])
        return Self.redirect("/admin/dlq?\(query.queryString)\(query.queryString.isEmpty ? "" : "&")done=\(HTML.query(done))")
    }

    private func hiddenFilters(_ query: DeadLetterQuery) -> String {
        [("queue", query.queue), ("type", query.filter.type), ("key", query.filter.key), ("error", query.filter.error)]
            .compactMap { name, value in value.map { "<input type=\"hidden\" name=\"\(name)\" value=\"\(HTML.escape($0))\">" } }.joined()
    }

    // MARK: - Responses

    private func csrfField(_ principal: AdminAccess.Principal) -> String {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(access.csrfToken(for: principal)))\">"
    }

    private static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentTypeOptions: "nosniff",
                                         .init("X-Frame-Options")!: "DENY", .contentSecurityPolicy: contentSecurityPolicy],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Only this origin's own files run or style a page: no inline script or style, so markup that slipped into
    /// a value could not run even if an escape were missed.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    private static func asset(_ text: String, contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-store", .contentTypeOptions: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func text(_ status: Int, _ body: String) -> Response {
        AdminAccess.text(status, body)
    }

    /// After a form: back to a page (303, so a reload does not post again).
    private static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}

extension HTTPField.Name {
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
}
