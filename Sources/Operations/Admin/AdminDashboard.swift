public import HTTPServer
import Foundation
import HTTPTypes
public import Hummingbird
public import Logging
import NIOCore
import Parsing
public import QueueCore
public import Routing
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

/// What the dashboard's webhooks panel reads and does, given by `serve` (which knows the store).
public struct WebhookAccess: Sendable {
    /// One routed topic: its webhook(s) as the store lists them, and what the intake last received.
    public struct Row: Sendable {
        public var topic: String
        /// `active`, `disabled (WooCommerce)`, `no webhook`, …
        public var state: String
        public var healthy: Bool
        /// The ms time of the last delivery received; `nil`: none recorded.
        public var lastDelivery: Int64?
        /// Signatures the intake refused from this topic's webhooks (their secret differs).
        public var refusedSignatures: Int

        public init(topic: String, state: String, healthy: Bool, lastDelivery: Int64?, refusedSignatures: Int) {
            (self.topic, self.state, self.healthy, self.lastDelivery, self.refusedSignatures) = (topic, state, healthy, lastDelivery, refusedSignatures)
        }
    }

    /// The rows, read from the store's REST API.
    public var status: @Sendable () async throws -> [Row]
    /// Runs `webhooks sync`, returning its steps; `nil` without the managing keys.
    public var repair: (@Sendable () async throws -> [String])?

    public init(status: @escaping @Sendable () async throws -> [Row], repair: (@Sendable () async throws -> [String])?) {
        self.status = status
        self.repair = repair
    }
}

/// `GET /admin`: the operators' screen, server-rendered, with no external resource. The overview refreshes its
/// figures every 3 s without reloading the page; the dead-letter review lists, filters, shows, retries, deletes
/// and exports dead jobs. Every request passes ``AdminAccess``; every form carries its CSRF token.
public final class AdminDashboard: Sendable {
    private let store: QueueStore
    private let queues: [QueueConfiguration.QueueSettings]
    /// The job types: the flow panel's pause form, and the limited types it always shows.
    private let jobTypes: [String: QueueConfiguration.JobTypeSettings]
    /// How long a job woken by a resume keeps its slot reserved: the process timeout.
    private let processTimeoutMillis: Int64
    /// Queues with dead-letter lists: the configured ones and the intake's list of unroutable deliveries.
    private let deadLetterQueues: [String]
    private let access: AdminAccess
    private let deadLetterReview: DeadLetterReview
    private let catalogue: CatalogueAccess?
    private let webhooks: WebhookAccess?
    /// The webhooks panel's rows, read from the store at most once a minute (and after a repair).
    private let cachedWebhooks = Mutex<(at: ContinuousClock.Instant, rows: Result<[WebhookAccess.Row], any Error>)?>(nil)
    private let logger: Logger
    private let comparison = Mutex<ComparisonState>(ComparisonState())
    private let cachedStoreProducts = Mutex<(at: ContinuousClock.Instant, count: Int?)?>(nil)
    private let pages: DashboardPages

    private struct ComparisonState {
        var running = false
        var lines: [String] = []
    }

    /// Throws when the dashboard's templates cannot be read (they are resources next to the executable).
    /// - Parameter routing: the queues to show, and the routes a kept delivery is retried through.
    public init(routing: DeliveryRouter.Configuration, store: QueueStore, access: AdminAccess, catalogue: CatalogueAccess?,
                webhooks: WebhookAccess? = nil, logger: Logger) throws {
        pages = try DashboardPages()
        self.store = store
        queues = routing.queue.queues
        jobTypes = routing.queue.jobTypes
        processTimeoutMillis = routing.queue.workers.processTimeout.milliseconds
        deadLetterQueues = DeadLetterReview.queues(routing.queue)
        deadLetterReview = DeadLetterReview(routing: routing, store: store)
        self.access = access
        self.catalogue = catalogue
        self.webhooks = webhooks
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
            try await self.guarded(request, context) { _ in self.asset("admin.css", contentType: "text/css; charset=utf-8") }
        }
        admin.get("assets/admin.js") { request, context in
            try await self.guarded(request, context) { _ in self.asset("admin.js", contentType: "text/javascript; charset=utf-8") }
        }
        admin.post("process-now") { request, context in
            try await self.guardedForm(request, context) { _, _ in
                let moved = try await self.store.promoteDue(queues: self.queues.map(\.name), now: .max)
                return Self.redirect("/admin?done=\(DashboardText.query("\(moved) delayed or retrying jobs moved to ready"))")
            }
        }
        admin.post("compare") { request, context in
            try await self.guardedForm(request, context) { _, _ in
                self.startComparison()
                return Self.redirect("/admin")
            }
        }
        admin.post("webhooks/repair") { request, context in
            try await self.guardedForm(request, context) { _, _ in
                guard let repair = self.webhooks?.repair else {
                    return Self.redirect("/admin?done=\(DashboardText.query("Repair needs woocommerce.manageKey and manageSecret"))")
                }
                let message: String
                do {
                    let steps = try await repair()
                    message = steps.isEmpty ? "The store's webhooks already match the routes" : "Repaired: \(steps.joined(separator: "; "))"
                } catch {
                    self.logger.error("The webhook repair from /admin failed", metadata: ["error": "\(error)"])
                    message = "Repair failed: \(error)"
                }
                self.cachedWebhooks.withLock { $0 = nil }
                return Self.redirect("/admin?done=\(DashboardText.query(message))")
            }
        }
        for action in ["pause", "resume"] {
            admin.post(RouterPath("flow/\(action)")) { request, context in
                try await self.guardedForm(request, context) { form, _ in try await self.pauseOrResume(action, form) }
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
        var view = try await liveView(principal)
        view.done = done
        return Self.html(pages.render("overview", view))
    }

    private func live(_ principal: AdminAccess.Principal) async throws -> Response {
        Self.html(pages.render("live", try await liveView(principal)))
    }

    /// What `live.mustache` shows (and `overview.mustache` around it).
    struct LiveView {
        struct QueueRow {
            var name, nameQuery, age, maxDelay: String
            var ready, active, delayed, dead, done, failed: Int
            var hasDead, late, paused: Bool
        }
        /// A job type flow control limits or holds.
        struct FlowRow {
            var type, queue, limit, circuit, state: String
            var running, waiting, throttled: Int
            var paused, troubled: Bool
        }
        struct ProcessRow {
            var host, queues, heartbeat: String
            var pid: Int
            var alive: Bool
        }
        struct EventRow {
            var at, queue, key, event, status, error: String
            var attempt: Int
        }
        struct Webhooks {
            struct Row {
                var topic, state, lastDelivery: String
                var healthy: Bool
                var refused: Int
            }
            var rows: [Row]
            var error: String?
            var canRepair, hasRows: Bool
        }
        struct Catalogue {
            var storeProducts, tableRows, progress: String
            var canCompare, comparing: Bool
            var lastComparison: String?
        }
        var csrf: String
        var done: String?
        var loopbackNotice: Bool
        var alerts: [String]
        var catalogue: Catalogue?
        var webhooks: Webhooks?
        var queues: [QueueRow]
        var flow: [FlowRow]
        /// Every configured job type, for the pause form.
        var typeNames: [String]
        var processes: [ProcessRow]
        var events: [EventRow]
        // Stored, not computed: templates see a value's stored properties only (Mirror).
        var hasAlerts = false, hasQueues = false, hasProcesses = false, hasEvents = false, hasFlow = false

        init(csrf: String, done: String?, loopbackNotice: Bool, alerts: [String], catalogue: Catalogue?, webhooks: Webhooks?,
             queues: [QueueRow], flow: [FlowRow], typeNames: [String], processes: [ProcessRow], events: [EventRow]) {
            (self.csrf, self.done, self.loopbackNotice, self.alerts, self.catalogue) = (csrf, done, loopbackNotice, alerts, catalogue)
            self.webhooks = webhooks
            (self.queues, self.flow, self.typeNames, self.processes, self.events) = (queues, flow, typeNames, processes, events)
            (hasAlerts, hasQueues, hasProcesses, hasEvents) = (!alerts.isEmpty, !queues.isEmpty, !processes.isEmpty, !events.isEmpty)
            hasFlow = !flow.isEmpty
        }
    }

    private func liveView(_ principal: AdminAccess.Principal) async throws -> LiveView {
        let snapshot = try await store.snapshot(queues: queues, jobTypes: jobTypes, latestEvents: 20)
        return LiveView(
            csrf: access.csrfToken(for: principal), done: nil, loopbackNotice: principal == .loopback,
            alerts: try await store.alertBoard.holding(), catalogue: await catalogueView(), webhooks: await webhooksView(),
            queues: snapshot.queues.map { queue in
                LiveView.QueueRow(
                    name: queue.name, nameQuery: DashboardText.query(queue.name),
                    age: queue.flow.pausedUntil != nil ? "paused" : queue.oldestReadyAgeMillis.map { "\($0 / 1000) s" } ?? "–",
                    maxDelay: "\(queue.maxDelayMillis / 1000) s",
                    ready: queue.ready, active: queue.active, delayed: queue.delayed, dead: queue.dead, done: queue.done,
                    failed: queue.failed, hasDead: queue.dead > 0, late: queue.isLate, paused: queue.flow.pausedUntil != nil)
            },
            flow: snapshot.queues.flatMap { queue in queue.flow.types.map { Self.flowRow($0, now: queue.flow.now) } },
            typeNames: jobTypes.keys.sorted(),
            processes: snapshot.processes.map { process in
                let record = process.record
                return LiveView.ProcessRow(host: record.host, queues: zip(record.queues, record.workers).map { "\($0)×\($1)" }.joined(separator: " "),
                                           heartbeat: DashboardText.time(record.heartbeatAt), pid: record.pid, alive: process.alive)
            },
            events: snapshot.events.map { event in
                LiveView.EventRow(at: DashboardText.time(event.at), queue: event.queue, key: event.key ?? event.type, event: event.event,
                                  status: event.status, error: event.error ?? "", attempt: event.attempt)
            })
    }

    /// Pauses or resumes the queue or job type the form names (`queue` or `type`), as `wooqueue pause` and
    /// `resume` do; names not configured are refused.
    private func pauseOrResume(_ action: String, _ form: FormFields) async throws -> Response {
        let queueName = form.value("queue").flatMap { $0.isEmpty ? nil : $0 }
        let typeName = form.value("type").flatMap { $0.isEmpty ? nil : $0 }
        let target: (queue: String, type: String?, name: String)
        if let typeName, queueName == nil, let type = jobTypes[typeName] {
            target = (type.queue, typeName, "job type \(typeName)")
        } else if let queueName, typeName == nil, queues.contains(where: { $0.name == queueName }) {
            target = (queueName, nil, "queue \(queueName)")
        } else {
            return Self.text(400, "name one configured queue or job type to \(action)\n")
        }
        let message: String
        if action == "pause" {
            try await store.pause(queue: target.queue, type: target.type, until: nil)
            logger.notice("Paused from /admin", metadata: ["event": "flow-paused", "queue": "\(target.queue)", "type": "\(target.type ?? "")"])
            message = "Paused \(target.name): running jobs finish, no worker starts another within a second"
        } else {
            let limits = jobTypes.compactMapValues { $0.flow.isEmpty ? nil : $0.flow }
            let resumed = try await store.resume(queue: target.queue, type: target.type, limits: limits, reserveMillis: processTimeoutMillis)
            logger.notice("Resumed from /admin", metadata: ["event": "flow-resumed", "queue": "\(target.queue)", "type": "\(target.type ?? "")"])
            message = resumed.wasPaused ? "Resumed \(target.name): \(resumed.moved) waiting job(s) went back to the queue" : "\(target.name) was not paused"
        }
        return Self.redirect("/admin?done=\(DashboardText.query(message))")
    }

    static func flowRow(_ type: FlowTypeState, now: Int64) -> LiveView.FlowRow {
        return LiveView.FlowRow(type: type.type, queue: type.queue, limit: type.limits.summary ?? "–",
                                circuit: type.circuit, state: type.stateSummary(now: now) { "\($0 / 1000) s" },
                                running: type.running, waiting: type.waiting, throttled: type.throttled,
                                paused: type.pausedUntil != nil, troubled: type.circuit != "closed" || type.heldUntil != nil)
    }

    private func catalogueView() async -> LiveView.Catalogue? {
        guard let catalogue else { return nil }
        let counts = await catalogueCounts(catalogue)
        let state = comparison.withLock { $0 }
        return LiveView.Catalogue(
            storeProducts: catalogue.storeProducts == nil ? "not configured" : counts.storeProducts.map(String.init) ?? "?",
            tableRows: counts.tableRows.map(String.init) ?? "?", progress: state.lines.last ?? "",
            canCompare: catalogue.compare != nil, comparing: state.running, lastComparison: state.running ? nil : state.lines.last)
    }

    /// The webhooks panel: the store's webhooks per routed topic (a REST call, at most once a minute).
    private func webhooksView() async -> LiveView.Webhooks? {
        guard let webhooks else { return nil }
        let rows: Result<[WebhookAccess.Row], any Error>
        if let cached = cachedWebhooks.withLock({ $0 }), cached.at.duration(to: .now) < .seconds(60) {
            rows = cached.rows
        } else {
            do { rows = .success(try await webhooks.status()) } catch { rows = .failure(error) }
            cachedWebhooks.withLock { $0 = (.now, rows) }
        }
        let shown = ((try? rows.get()) ?? []).map { row in
            LiveView.Webhooks.Row(topic: row.topic, state: row.state, lastDelivery: row.lastDelivery.map(DashboardText.time) ?? "none recorded",
                                  healthy: row.healthy, refused: row.refusedSignatures)
        }
        var error: String?
        if case .failure(let failure) = rows { error = "\(failure)" }
        return LiveView.Webhooks(rows: shown, error: error, canRepair: webhooks.repair != nil, hasRows: !shown.isEmpty)
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
                .compactMap { name, value in value.map { "\(name)=\(DashboardText.query($0))" } }.joined(separator: "&")
        }
    }

    private func letters(_ query: DeadLetterQuery) async throws -> [DeadLetter] {
        let names = query.queue.map { name in deadLetterQueues.filter { $0 == name } } ?? deadLetterQueues
        return try await store.deadLetters(queues: names, matching: query.filter)
    }

    /// Dead letters shown per page of the review.
    static let pageSize = 100

    /// What `dlq.mustache` shows.
    struct DeadLetterListView {
        struct QueueOption { var name: String; var selected: Bool }
        struct Hidden { var name, value: String }
        struct Row {
            var isEnvelope: Bool
            var id, idQuery, queue, queueQuery, type, key, attempts, lastError, raw: String
        }
        var csrf: String
        var queues: [QueueOption]
        var type, key, error: String
        var filterQuery, filterPrefix: String
        var message: String?
        var hidden: [Hidden]
        var shown: String
        var letters: [Row]
        var page: Int
        var previous, next: Int?
        // Stored, not computed: templates see a value's stored properties only (Mirror).
        var hasLetters = false, hasPages = false
    }

    private func deadLetterList(_ query: DeadLetterQuery, principal: AdminAccess.Principal, message: String? = nil) async throws -> Response {
        let names = query.queue.map { name in deadLetterQueues.filter { $0 == name } } ?? deadLetterQueues
        let first = (query.page - 1) * Self.pageSize
        let page = try await store.deadLetterPage(queues: names, matching: query.filter, offset: first, limit: Self.pageSize)
        let letters = page.letters
        let shown = letters.isEmpty ? "No dead letter matches\(query.page > 1 ? " on this page" : "")."
            : "Matches \(first + 1)–\(first + letters.count)\(page.hasMore ? "; more follow" : (query.page == 1 ? " of \(letters.count)" : ""))."
        let filters = [("queue", query.queue), ("type", query.filter.type), ("key", query.filter.key), ("error", query.filter.error)]
        var view = DeadLetterListView(
            csrf: access.csrfToken(for: principal),
            queues: deadLetterQueues.map { .init(name: $0, selected: query.queue == $0) },
            type: query.filter.type ?? "", key: query.filter.key ?? "", error: query.filter.error ?? "",
            filterQuery: query.queryString, filterPrefix: query.queryString.isEmpty ? "" : "\(query.queryString)&",
            message: message,
            hidden: filters.compactMap { name, value in value.map { .init(name: name, value: $0) } },
            shown: shown,
            letters: letters.map { letter in
                guard let envelope = letter.envelope else {
                    return .init(isEnvelope: false, id: "", idQuery: "", queue: letter.queue, queueQuery: "", type: "", key: "", attempts: "",
                                 lastError: "", raw: String(decoding: letter.raw.prefix(200), as: UTF8.self))
                }
                return .init(isEnvelope: true, id: envelope.id, idQuery: DashboardText.query(envelope.id), queue: letter.queue,
                             queueQuery: DashboardText.query(letter.queue), type: envelope.type, key: envelope.key ?? "–",
                             attempts: "\(envelope.attempt)/\(envelope.maxAttempts)", lastError: envelope.lastError ?? "", raw: "")
            },
            page: query.page, previous: query.page > 1 ? query.page - 1 : nil, next: page.hasMore ? query.page + 1 : nil)
        view.hasLetters = !view.letters.isEmpty
        view.hasPages = view.previous != nil || view.next != nil
        return Self.html(pages.render("dlq", view))
    }

    /// What `job.mustache` shows.
    struct DeadLetterJobView {
        struct Fact { var name, value: String }
        var csrf, id, queue, payload: String
        var facts: [Fact]
    }

    private func deadLetterJob(queue: String, id: String, principal: AdminAccess.Principal) async throws -> Response {
        let letter = try await store.deadLetterPage(queues: deadLetterQueues.filter { $0 == queue }, matching: DeadLetterFilter(id: id),
                                                    offset: 0, limit: 1).letters.first
        guard let letter, let envelope = letter.envelope else {
            return Self.text(404, "no dead letter \(id) in queue \(queue): it may have been retried or deleted\n")
        }
        let facts: [(String, String)] = [
            ("queue", letter.queue), ("type", envelope.type), ("key", envelope.key ?? "–"), ("source", envelope.source ?? "–"),
            ("attempts", "\(envelope.attempt) of \(envelope.maxAttempts)"), ("recoveries", "\(envelope.recoveries)"),
            ("enqueued (UTC)", DashboardText.time(envelope.enqueuedAt)), ("first failed (UTC)", DashboardText.time(envelope.firstFailedAt)),
            ("first error", envelope.firstError ?? "–"), ("last failed (UTC)", DashboardText.time(envelope.lastFailedAt)),
            ("last error", envelope.lastError ?? "–"), ("dead since (UTC)", DashboardText.time(envelope.deadAt)),
        ]
        let view = DeadLetterJobView(csrf: access.csrfToken(for: principal), id: envelope.id, queue: letter.queue,
                                     payload: String(decoding: envelope.payload, as: UTF8.self),
                                     facts: facts.map { .init(name: $0.0, value: $0.1) })
        return Self.html(pages.render("job", view))
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
        return Self.redirect("/admin/dlq?\(query.queryString)\(query.queryString.isEmpty ? "" : "&")done=\(DashboardText.query(done))")
    }

    // MARK: - Responses

    private static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentTypeOptions: "nosniff",
                                         .init("X-Frame-Options")!: "DENY", .contentSecurityPolicy: contentSecurityPolicy],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Only this origin's own files run or style a page: no inline script or style, so markup that slipped into
    /// a value could not run even if an escape were missed.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// A file of `Admin/Assets`.
    private func asset(_ name: String, contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-store", .contentTypeOptions: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(string: pages.assets[name] ?? "")))
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
