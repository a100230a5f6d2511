import AppConfiguration
import HTTPServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Operations
import Parsing
import QueueCore
import RedisClient
import Routing
import TestSupport
import Synchronization
import Testing

/// The dashboard over real HTTP (a live server on loopback) against a real Redis.
@Suite struct AdminDashboardTests {
    static let token = "admin-token-for-tests"

    /// A dashboard on a fresh key prefix; `admin` is the configuration's admin section.
    func withDashboard(admin: String = #"{"token": "\#(token)", "user": "ops", "password": "pa ss:word"}"#, webhooks: WebhookAccess? = nil,
                       _ body: @escaping @Sendable (WooqueueConfiguration, QueueStore, any TestClientProtocol) async throws -> Void) async throws {
        try await withFreshQueue("admin", #"{"admin": \#(admin)}"#) { configuration, store in
            var logger = Logger(label: "test.admin")
            logger.logLevel = .warning
            let dashboard = try AdminDashboard(configuration: configuration, store: store.withNewConnection(label: "admin"),
                                               access: AdminAccess(settings: configuration.admin), catalogue: nil, webhooks: webhooks,
                                               logger: logger)
            let router = Router(context: ServerContext.self)
            dashboard.register(on: router)
            try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logger)
                .test(.live) { client in try await body(configuration, store, client) }
        }
    }

    static let bearer: HTTPFields = [.authorization: "Bearer \(token)"]

    @Test func requestsWithoutCredentialsGet401() async throws {
        try await withDashboard { _, _, client in
            for path in ["/admin", "/admin/live", "/admin/dlq", "/admin/dlq/export"] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(path)")
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true, "a browser must be asked for credentials")
                }
            }
            try await client.execute(uri: "/admin/process-now", method: .post) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/admin", method: .get, headers: [.authorization: "Bearer wrong"]) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/admin", method: .get, headers: Self.bearer) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("<section id=\"queues\">"))
            }
            let basic = Data("ops:pa ss:word".utf8).base64EncodedString()
            try await client.execute(uri: "/admin", method: .get, headers: [.authorization: "Basic \(basic)"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff")
            }
            // The scheme is case-insensitive.
            try await client.execute(uri: "/admin", method: .get, headers: [.authorization: "basic \(basic)"]) { #expect($0.status == .ok) }
            try await client.execute(uri: "/admin", method: .get, headers: [.authorization: "BEARER \(Self.token)"]) { #expect($0.status == .ok) }
            let wrongBasic = Data("ops:guess".utf8).base64EncodedString()
            try await client.execute(uri: "/admin", method: .get, headers: [.authorization: "Basic \(wrongBasic)"]) { #expect($0.status == .unauthorized) }
        }
    }

    /// With the opt-in, the test's own loopback client is served and the page says why; without it, nothing is.
    @Test func withoutCredentialsNothingIsServedUnlessLoopbackIsOptedIn() async throws {
        try await withDashboard(admin: "{}") { _, _, client in
            try await client.execute(uri: "/admin", method: .get) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("no admin credential is configured"))
            }
        }
        try await withDashboard(admin: #"{"allowLoopbackWithoutCredentials": true}"#) { _, _, client in
            try await client.execute(uri: "/admin", method: .get) { response in
                #expect(response.status == .ok, "this test's client connects over loopback, to 127.0.0.1")
                #expect(String(buffer: response.body).contains("admin.allowLoopbackWithoutCredentials</code> is set"))
            }
        }
    }

    /// The page runs no inline script or style: its policy forbids them, and its script and style are files.
    @Test func pagesCarryAPolicyWithoutInlineScriptAndTheirAssetsAreFiles() async throws {
        try await withDashboard { _, _, client in
            let page = try await client.execute(uri: "/admin", method: .get, headers: Self.bearer) { response in
                let policy = response.headers[.init("Content-Security-Policy")!] ?? ""
                #expect(policy.contains("script-src 'self'") && policy.contains("default-src 'none'") && !policy.contains("unsafe-inline"), "\(policy)")
                return String(buffer: response.body)
            }
            #expect(page.contains(#"<script src="/admin/assets/admin.js""#))
            #expect(page.ranges(of: "<script").count == 1 && !page.contains("<style"), "no inline script or style")
            try await client.execute(uri: "/admin/assets/admin.js", method: .get, headers: Self.bearer) { response in
                #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("text/javascript") == true)
                #expect(String(buffer: response.body).contains("data-refresh") || String(buffer: response.body).contains("dataset.refresh"))
            }
            try await client.execute(uri: "/admin/assets/admin.css", method: .get, headers: Self.bearer) {
                #expect($0.status == .ok && $0.headers[.contentType]?.hasPrefix("text/css") == true)
            }
            try await client.execute(uri: "/admin/assets/admin.js", method: .get) { #expect($0.status == .unauthorized) }
        }
    }

    /// A token served to one login is refused for another, and a token past its lifetime is refused.
    @Test func csrfTokensAreBoundToTheCredentialAndExpire() async throws {
        try await withDashboard { _, store, client in
            _ = try await store.enqueue([JobEnvelope(type: "noop", queue: "medium", maxAttempts: 1, runAt: WallClock.nowMillis() + 3_600_000)])
            let basic: HTTPFields = [.authorization: "Basic \(Data("ops:pa ss:word".utf8).base64EncodedString())"]
            let page = try await client.execute(uri: "/admin", method: .get, headers: basic) { String(buffer: $0.body) }
            let csrf = String(try #require(page.firstMatch(of: /name="csrf" value="([^"]+)"/)?.output.1))
            let token = csrf.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            var asBearer = Self.bearer, asBasic = basic
            asBearer[.contentType] = "application/x-www-form-urlencoded"
            asBasic[.contentType] = "application/x-www-form-urlencoded"
            try await client.execute(uri: "/admin/process-now", method: .post, headers: asBearer, body: ByteBuffer(string: "csrf=\(token)")) {
                #expect($0.status == .forbidden, "the Basic login's token does not work with the bearer token")
            }
            try await client.execute(uri: "/admin/process-now", method: .post, headers: asBasic, body: ByteBuffer(string: "csrf=\(token)")) {
                #expect($0.status == .seeOther)
            }
        }
    }

    @Test func deadLettersAreFilteredShownRetriedDeletedAndExported() async throws {
        try await withDashboard { _, store, client in
            let jobs = (0..<3).map { index in
                var job = JobEnvelope(type: "noop", queue: "low", payload: Array(#"{"n": \#(index), "note": "<script>alert(1)</script>"}"#.utf8),
                                      maxAttempts: 3, key: "SKU-\(index)")
                job.attempt = 3
                job.lastError = index == 2 ? "PostgreSQL rejected product (SQLSTATE 22003)" : "HTTP 500 from the ERP"
                return job
            }
            try await store.deadLetter(jobs)
            // Filters: by error text, and by key.
            let page = try await client.execute(uri: "/admin/dlq?error=22003", method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            #expect(page.contains(jobs[2].id) && !page.contains(jobs[0].id) && !page.contains(jobs[1].id))
            let csrf = String(try #require(page.firstMatch(of: /name="csrf" value="([^"]+)"/)?.output.1))
            // The job's page: full payload, escaped, and its errors.
            try await client.execute(uri: "/admin/dlq/job?queue=low&id=\(jobs[2].id)", method: .get, headers: Self.bearer) { response in
                let html = String(buffer: response.body)
                #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>alert(1)"))
                #expect(html.contains("SQLSTATE 22003"))
            }
            // Export: every match as one envelope per line.
            try await client.execute(uri: "/admin/dlq/export?queue=low", method: .get, headers: Self.bearer) { response in
                let lines = String(buffer: response.body).split(separator: "\n")
                #expect(lines.count == 3)
                #expect(Set(lines.compactMap { try? JobEnvelope(decoding: Array($0.utf8)).id }) == Set(jobs.map(\.id)))
            }
            // A form without its CSRF token changes nothing.
            var form = Self.bearer
            form[.contentType] = "application/x-www-form-urlencoded"
            try await client.execute(uri: "/admin/dlq/retry", method: .post, headers: form, body: ByteBuffer(string: "queue=low&id=\(jobs[2].id)")) {
                #expect($0.status == .forbidden)
            }
            // Retry one selected job: back on its queue with fresh attempts.
            let token = csrf.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            try await client.execute(uri: "/admin/dlq/retry", method: .post, headers: form,
                                     body: ByteBuffer(string: "csrf=\(token)&queue=low&id=\(jobs[2].id)")) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location]?.contains("1%20sent%20back") == true)
            }
            let ready = try await store.connection.send("LRANGE", store.keys("low").ready, "0", "-1").array?.compactMap(\.bytes) ?? []
            #expect(ready.compactMap { try? JobEnvelope(decoding: $0) }.map { [$0.id, "\($0.attempt)"] } == [[jobs[2].id, "0"]])
            // Delete every remaining match of a filter.
            try await client.execute(uri: "/admin/dlq/delete", method: .post, headers: form,
                                     body: ByteBuffer(string: "csrf=\(token)&queue=low&key=sku-&all=1")) { #expect($0.status == .seeOther) }
            #expect(try await store.deadLetters(queue: "low").isEmpty)
        }
    }

    @Test func processQueueNowMovesDelayedJobsToReady() async throws {
        try await withDashboard { configuration, store, client in
            let later = WallClock.nowMillis() + 3_600_000
            _ = try await store.enqueue((0..<4).map { _ in JobEnvelope(type: "noop", queue: "medium", maxAttempts: 1, runAt: later) })
            let page = try await client.execute(uri: "/admin", method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            let csrf = try #require(page.firstMatch(of: /name="csrf" value="([^"]+)"/)?.output.1)
            var form = Self.bearer
            form[.contentType] = "application/x-www-form-urlencoded"
            let token = String(csrf).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            try await client.execute(uri: "/admin/process-now", method: .post, headers: form, body: ByteBuffer(string: "csrf=\(token)")) {
                #expect($0.status == .seeOther)
            }
            let medium = try await store.snapshot(queues: configuration.queues, latestEvents: 0).queues.first { $0.name == "medium" }
            #expect(medium?.ready == 4 && medium?.delayed == 0)
        }
    }

    /// Pause and Resume on the dashboard: forms with the CSRF token, as `wooqueue pause` and `resume`; the queue
    /// shows paused instead of LATE, the flow panel shows the paused type with its Resume button.
    @Test func pauseAndResumeFromTheDashboard() async throws {
        try await withDashboard { configuration, store, client in
            let page = try await client.execute(uri: "/admin", method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            #expect(page.contains("Flow control") && page.contains("No job type is limited, paused or held."))
            let csrf = try #require(page.firstMatch(of: /name="csrf" value="([^"]+)"/)?.output.1)
            let token = String(csrf).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            var form = Self.bearer
            form[.contentType] = "application/x-www-form-urlencoded"
            func post(_ path: String, _ body: String) async throws -> (status: HTTPResponse.Status, location: String) {
                try await client.execute(uri: path, method: .post, headers: form, body: ByteBuffer(string: body)) {
                    ($0.status, $0.headers[.location] ?? "")
                }
            }
            #expect(try await post("/admin/flow/pause", "csrf=wrong&type=noop").status == .forbidden)
            #expect(try await post("/admin/flow/pause", "csrf=\(token)&type=no-such-type").status == .badRequest)
            #expect(try await post("/admin/flow/pause", "csrf=\(token)&type=noop&queue=low").status == .badRequest, "one target only")
            let paused = try await post("/admin/flow/pause", "csrf=\(token)&type=noop")
            #expect(paused.status == .seeOther)
            #expect(try await post("/admin/flow/pause", "csrf=\(token)&queue=medium").status == .seeOther)
            let flow = try await store.snapshot(queues: configuration.queues, jobTypes: configuration.jobTypes, latestEvents: 0)
            let noopQueue = configuration.jobTypes["noop"]!.queue
            #expect(flow.queues.first { $0.name == noopQueue }?.flow.types.first { $0.type == "noop" }?.pausedUntil == 0)
            #expect(flow.queues.first { $0.name == "medium" }?.flow.pausedUntil == 0)
            let after = try await client.execute(uri: paused.location, method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            #expect(after.contains("Paused job type noop"))
            #expect(after.contains(#"<td>noop</td>"#) && after.contains(#"action="/admin/flow/resume""#), "\(after)")
            #expect(after.contains("paused / 300 s"), "the medium queue shows paused")
            #expect(try await post("/admin/flow/resume", "csrf=\(token)&type=noop").status == .seeOther)
            #expect(try await post("/admin/flow/resume", "csrf=\(token)&queue=medium").status == .seeOther)
            let resumed = try await store.snapshot(queues: configuration.queues, jobTypes: configuration.jobTypes, latestEvents: 0)
            #expect(resumed.queues.allSatisfy { $0.flow.pausedUntil == nil && $0.flow.types.allSatisfy { $0.pausedUntil == nil } })
        }
    }

    /// The webhooks panel shows each routed topic as the store and the intake see it; Repair (a form with the CSRF
    /// token) runs the sync once and says what it did, and the panel reads the store again.
    @Test func theWebhooksPanelShowsEachTopicAndRepairRunsTheSync() async throws {
        let state = Mutex((disabled: true, repairs: 0, reads: 0))
        let access = WebhookAccess(
            status: {
                let disabled = state.withLock { $0.reads += 1; return $0.disabled }
                return [WebhookAccess.Row(topic: "order.created", state: disabled ? "its webhook is disabled" : "active (webhook 101)",
                                          healthy: !disabled, lastDelivery: 1_764_500_000_000, refusedSignatures: disabled ? 7 : 0),
                        WebhookAccess.Row(topic: "product.updated", state: "active (webhook 102)", healthy: true, lastDelivery: nil,
                                          refusedSignatures: 0)]
            },
            repair: {
                state.withLock { $0.disabled = false; $0.repairs += 1 }
                return ["update webhook 101 (order.created): disabled → active"]
            })
        try await withDashboard(webhooks: access) { _, _, client in
            let page = try await client.execute(uri: "/admin", method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            #expect(page.contains("Store webhooks") && page.contains(#"<span class="late">its webhook is disabled</span>"#), "\(page)")
            #expect(page.contains("none recorded") && page.contains("<td>7</td>"))
            let csrf = try #require(page.firstMatch(of: /name="csrf" value="([^"]+)"/)?.output.1)
            var form = Self.bearer
            form[.contentType] = "application/x-www-form-urlencoded"
            try await client.execute(uri: "/admin/webhooks/repair", method: .post, headers: form, body: ByteBuffer(string: "csrf=wrong")) {
                #expect($0.status == .forbidden)
            }
            #expect(state.withLock { $0.repairs } == 0, "no repair without the form's token")
            let token = String(csrf).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let location = try await client.execute(uri: "/admin/webhooks/repair", method: .post, headers: form,
                                                    body: ByteBuffer(string: "csrf=\(token)")) { response -> String in
                #expect(response.status == .seeOther)
                return response.headers[.location] ?? ""
            }
            #expect(state.withLock { $0.repairs } == 1)
            let after = try await client.execute(uri: location, method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            #expect(after.contains("Repaired: update webhook 101 (order.created): disabled → active"), "\(after)")
            #expect(after.contains("active (webhook 101)"), "the panel read the store again after the repair")
        }
    }

    /// A POST whose body is `=` (or `&&=&`) trapped in the form reader before the CSRF check, so a page of
    /// another site open in the operator's browser could stop the whole process. The checks now come first, the
    /// reader cannot trap, and the server still answers.
    @Test func aMalformedOrForeignFormIsRefusedAndTheServerStillAnswers() async throws {
        try await withDashboard { _, _, client in
            var form = Self.bearer
            form[.contentType] = "application/x-www-form-urlencoded"
            for body in ["=", "&&=&", "csrf", "%zz=1", "id=1&id=2&csrf=%E2%82"] {
                for action in ["/admin/dlq/retry", "/admin/dlq/delete", "/admin/process-now", "/admin/compare"] {
                    try await client.execute(uri: action, method: .post, headers: form, body: ByteBuffer(string: body)) { response in
                        #expect(response.status == .forbidden || response.status == .badRequest, "\(action) \(body): \(response.status)")
                    }
                }
            }
            try await client.execute(uri: "/admin", method: .get, headers: Self.bearer) { #expect($0.status == .ok, "still answering") }
            // What a page of another site can send: refused before the body is read.
            var crossSite = form
            crossSite[.init("Sec-Fetch-Site")!] = "cross-site"
            try await client.execute(uri: "/admin/process-now", method: .post, headers: crossSite, body: ByteBuffer(string: "=")) {
                #expect($0.status == .forbidden)
                #expect(String(buffer: $0.body).contains("another site"))
            }
            var foreignOrigin = form
            foreignOrigin[.origin] = "https://evil.example"
            try await client.execute(uri: "/admin/process-now", method: .post, headers: foreignOrigin, body: ByteBuffer(string: "=")) {
                #expect($0.status == .forbidden)
            }
            var json = Self.bearer
            json[.contentType] = "application/json"
            try await client.execute(uri: "/admin/process-now", method: .post, headers: json, body: ByteBuffer(string: "{}")) {
                #expect($0.status == .unsupportedMediaType)
            }
            try await client.execute(uri: "/admin/dlq/delete", method: .post, headers: form,
                                     body: ByteBuffer(string: String(repeating: "id=1&", count: 60_000))) { #expect($0.status == .contentTooLarge) }
        }
    }

    /// Markup in a dead letter's key, error and payload, and in a filter echoed back, is shown as text on every
    /// page: the templates escape by default.
    @Test func markupFromOutsideIsEscapedOnEveryPage() async throws {
        try await withDashboard { _, store, client in
            let script = "<script>alert('x')</script>"
            var job = JobEnvelope(type: "noop", queue: "low", payload: Array(#"{"note": "\#(script)"}"#.utf8), maxAttempts: 1, key: "K\(script)")
            job.lastError = "E\(script)"
            job.firstError = "F\(script)"
            try await store.deadLetter([job])
            let filter = script.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            for path in ["/admin", "/admin/live", "/admin/dlq", "/admin/dlq?queue=low", "/admin/dlq?key=\(filter)&error=\(filter)&type=\(filter)",
                         "/admin/dlq/job?queue=low&id=\(job.id)"] {
                try await client.execute(uri: path, method: .get, headers: Self.bearer) { response in
                    let page = String(buffer: response.body)
                    #expect(response.status == .ok, "\(path)")
                    #expect(!page.contains("<script>alert"), "\(path) let markup through")
                    if path.contains("dlq") { #expect(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), "\(path) shows it as text") }
                }
            }
        }
    }

    /// A long dead-letter list is shown a page at a time, newest first, across the list's read slices.
    @Test func deadLettersArePaged() async throws {
        try await withDashboard { _, store, client in
            let jobs = (0..<1_150).map { index in
                var job = JobEnvelope(type: "noop", queue: "low", maxAttempts: 1, key: "K-\(index)")
                job.lastError = index % 2 == 0 ? "even failure" : "odd failure"
                return job
            }
            try await store.deadLetter(jobs)  // LPUSH: the last is the newest, first in the list
            func ids(_ html: String) -> [String] { html.matches(of: /name="id" value="([^"]+)"/).map { String($0.output.1) } }
            let first = try await client.execute(uri: "/admin/dlq?queue=low", method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            #expect(ids(first) == jobs.suffix(100).reversed().map(\.id))
            #expect(first.contains("Matches 1–100; more follow.") && first.contains("page=2") && !first.contains(#"rel="prev""#))
            let last = try await client.execute(uri: "/admin/dlq?queue=low&page=12", method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            #expect(ids(last) == jobs.prefix(50).reversed().map(\.id), "the oldest 50")
            #expect(last.contains(#"rel="prev""#) && !last.contains(#"rel="next""#))
            // A filter pages over its matches only; page 6 of the odd ones starts after 500 of them, past the first slice.
            let odd = try await client.execute(uri: "/admin/dlq?queue=low&error=odd&page=6", method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            let oddJobs = jobs.enumerated().filter { $0.offset % 2 == 1 }.map(\.element).reversed().map(\.id)
            #expect(ids(odd) == Array(oddJobs[500..<575]))
            #expect(odd.contains("error=odd&amp;page=5") || odd.contains("error=odd&page=5"), "the links keep the filter")
            #expect(try await client.execute(uri: "/admin/dlq?page=-3&queue=low", method: .get, headers: Self.bearer) { ids(String(buffer: $0.body)).count } == 100)
        }
    }

    /// A dead letter whose payload holds new lines took several lines of the JSON-lines export.
    @Test func theExportWritesEachDeadLetterOnOneLine() async throws {
        try await withDashboard { _, store, client in
            var job = JobEnvelope(type: "noop", queue: "low", payload: Array("{\n  \"note\": \"a\\nb\",\n  \"n\": 1\n}".utf8), maxAttempts: 1, key: "K")
            job.lastError = "line one\nline two"
            try await store.deadLetter([job])
            try await store.connection.send("LPUSH", store.keys("low").dead, "not an envelope\nat all")
            try await client.execute(uri: "/admin/dlq/export?queue=low", method: .get, headers: Self.bearer) { response in
                let lines = String(buffer: response.body).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                #expect(lines.count == 2, "\(lines)")
                let envelope = lines.compactMap { try? JobEnvelope(decoding: Array($0.utf8)) }.first
                #expect(envelope?.id == job.id)
                #expect(envelope.map { try? JSONValue.parse($0.payload) } == (try? JSONValue.parse(job.payload)))
                #expect(lines.contains(#""not an envelope\nat all""#), "an entry that is not JSON is exported as a JSON string")
            }
        }
    }

    /// Retrying a kept webhook delivery from the dead-letter page pushed it into `webhooks`' ready list, which no
    /// worker serves: the delivery was lost. It is routed again now, as the CLI does, through the form a browser
    /// sends (with its CSRF token); one that still cannot be routed stays, and the page says so.
    @Test func retryingAKeptDeliveryRoutesItInsteadOfLosingIt() async throws {
        try await withDashboard { _, store, client in
            let product = try Fixtures.bytes("product-simple.json")
            let kept = KeptDelivery(topic: "product.updated", deliveryID: "d-42", webhookID: "7", body: product)
            let stillUnroutable = KeptDelivery(topic: "coupon.created", deliveryID: "d-43", webhookID: "7", body: Array("{}".utf8))
            try await store.deadLetter([kept.envelope(reason: "no route for topic \"product.updated\""),
                                        stillUnroutable.envelope(reason: "no route for topic \"coupon.created\"")])
            let page = try await client.execute(uri: "/admin/dlq?queue=webhooks", method: .get, headers: Self.bearer) { String(buffer: $0.body) }
            let csrf = try #require(page.firstMatch(of: /name="csrf" value="([^"]+)"/)?.output.1)
            var form = Self.bearer
            form[.contentType] = "application/x-www-form-urlencoded"
            let token = String(csrf).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            try await client.execute(uri: "/admin/dlq/retry", method: .post, headers: form,
                                     body: ByteBuffer(string: "csrf=\(token)&queue=webhooks&all=1")) { response in
                #expect(response.status == .seeOther)
                let location = response.headers[.location]?.removingPercentEncoding ?? ""
                #expect(location.contains("1 kept delivery routed again") && location.contains("1 still cannot be routed"), "\(location)")
            }
            let bulk = try await store.connection.send("LRANGE", store.keys("bulk").ready, "0", "-1").array?.compactMap(\.bytes) ?? []
            #expect(bulk.compactMap { try? JobEnvelope(decoding: $0) }.map(\.type) == ["inventory.upsert"], "the product's job is on its queue")
            #expect(try await store.connection.send("LLEN", store.keys(KeptDelivery.queue).ready).int == 0, "nothing on a list no worker serves")
            let left = try await store.deadLetters(queue: KeptDelivery.queue).compactMap(\.envelope?.key)
            #expect(left == ["d-43"], "the delivery that still cannot be routed stays for review")
        }
    }
}
