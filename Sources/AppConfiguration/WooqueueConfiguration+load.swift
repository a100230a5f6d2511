import Dispatcher
public import Foundation
import Inventory
import Operations
public import Parsing
import QueueCore
import Routing
import WooCommerceAPI

extension WooqueueConfiguration {
    /// The defaults, as the repository's `config.json` also spells them out.
    public static var defaults: WooqueueConfiguration {
        get throws { try decode(JSONValue.object([]), environment: [:]) }
    }

    /// Reads a configuration file and applies the environment's overrides.
    ///
    /// - Parameters:
    ///   - path: the JSON file; `nil` uses the built-in defaults.
    ///   - environment: `WOOQUEUE_*` overrides for addresses and secrets.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> WooqueueConfiguration {
        guard let path else { return try decode(.object([]), environment: environment) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the configuration file \(path): it does not exist or is not readable (pass --config PATH)")
        }
        let root: JSONValue
        do {
            root = try JSONValue.parse(Array(data))
        } catch {
            throw ConfigurationError("\(path) is not valid JSON: \(error)")
        }
        do {
            return try decode(root, environment: environment)
        } catch let error as ConfigurationError {
            throw ConfigurationError("\(path): \(error.description)")
        }
    }

    /// Builds the typed tree from parsed JSON, checking every value.
    public static func decode(_ root: JSONValue, environment: [String: String]) throws -> WooqueueConfiguration {
        let node = ConfigNode(value: root, path: "")
        try node.allowOnly(["redis", "database", "workers", "backoff", "queues", "jobTypes", "http", "webhooks", "routes", "inventory", "woocommerce", "alerts", "admin", "$comment"])

        let redisNode = node.child("redis")
        try redisNode.allowOnly(["url", "keyPrefix", "allowEviction", "waitReplicas", "waitTimeout"])
        let waitReplicas = try redisNode.child("waitReplicas").int(default: 0, min: 0, max: 16)
        let waitTimeout = try redisNode.child("waitTimeout").duration(default: .seconds(1), min: .milliseconds(1))
        guard waitTimeout <= .seconds(60) else {
            throw ConfigurationError("redis.waitTimeout must be at most 60s (a webhook's answer waits for it), got \(DurationText.format(waitTimeout))")
        }
        let redis = RedisSettings(
            url: try environment["WOOQUEUE_REDIS_URL"] ?? redisNode.child("url").string(default: "redis://127.0.0.1:16379/0"),
            keyPrefix: try redisNode.child("keyPrefix").string(default: "wq"),
            allowEviction: try redisNode.child("allowEviction").bool(default: false),
            replicationWait: waitReplicas == 0 ? nil : ReplicationWait(replicas: waitReplicas, timeout: waitTimeout))
        guard !redis.keyPrefix.isEmpty, !redis.keyPrefix.contains("{"), !redis.keyPrefix.contains("}") else {
            throw ConfigurationError("redis.keyPrefix must be non-empty text without braces, got \"\(redis.keyPrefix)\"")
        }

        let databaseNode = node.child("database")
        try databaseNode.allowOnly(["url"])
        let database = DatabaseSettings(
            url: try environment["WOOQUEUE_DATABASE_URL"]
                ?? databaseNode.child("url").string(default: "postgresql://wooqueue:wooqueue@127.0.0.1:15432/wooqueue"))

        let w = node.child("workers")
        try w.allowOnly(["heartbeatInterval", "processTimeout", "recoveryInterval", "maxRecoveries", "shutdownGrace",
                         "fetchBatch", "schedulerInterval", "statusRetention", "eventsKept", "maxRetryAfter", "events", "jobStatus"])
        let workers = WorkerSettings(
            heartbeatInterval: try w.child("heartbeatInterval").duration(default: .seconds(3), min: .milliseconds(100)),
            processTimeout: try w.child("processTimeout").duration(default: .seconds(15), min: .milliseconds(300)),
            recoveryInterval: try w.child("recoveryInterval").duration(default: .seconds(5), min: .milliseconds(100)),
            maxRecoveries: try w.child("maxRecoveries").int(default: 3, min: 0),
            shutdownGrace: try w.child("shutdownGrace").duration(default: .seconds(25)),
            fetchBatch: try w.child("fetchBatch").int(default: 100, min: 1, max: 1000),
            schedulerInterval: try w.child("schedulerInterval").duration(default: .milliseconds(200), min: .milliseconds(10)),
            statusRetention: try w.child("statusRetention").duration(default: .seconds(86_400), min: .seconds(60)),
            eventsKept: try w.child("eventsKept").int(default: 1000, min: 20),
            maxRetryAfter: try w.child("maxRetryAfter").duration(default: .seconds(900), min: .seconds(1)),
            events: try w.child("events").choice(default: .all),
            jobStatus: try w.child("jobStatus").choice(default: .all))
        guard workers.maxRetryAfter <= .seconds(86_400) else {
            throw ConfigurationError("workers.maxRetryAfter must be at most 24h, got \(DurationText.format(workers.maxRetryAfter))")
        }
        guard workers.processTimeout > workers.heartbeatInterval * 2 else {
            throw ConfigurationError("workers.processTimeout (\(DurationText.format(workers.processTimeout))) must be more than twice workers.heartbeatInterval (\(DurationText.format(workers.heartbeatInterval))), or live processes would look dead")
        }

        let b = node.child("backoff")
        try b.allowOnly(["base", "factor", "cap", "jitter"])
        let backoff = BackoffSettings(
            base: try b.child("base").duration(default: .seconds(1), min: .milliseconds(1)),
            factor: try b.child("factor").double(default: 2, min: 1, max: 100),
            cap: try b.child("cap").duration(default: .seconds(600), min: .milliseconds(1)),
            jitter: try b.child("jitter").double(default: 0.1, min: 0, max: 1))

        let queues = try decodeQueues(node.child("queues"))
        let jobTypes = try decodeJobTypes(node.child("jobTypes"), queues: queues)

        let h = node.child("http")
        try h.allowOnly(["host", "port", "webhookPath", "maxBodyBytes", "metricsToken", "idleTimeout", "readTimeout", "maxConnections",
                         "maxUnverifiedBytes"])
        var http = HTTPSettings(
            host: try environment["WOOQUEUE_HTTP_HOST"] ?? h.child("host").string(default: "127.0.0.1"),
            port: try h.child("port").int(default: 8080, min: 0, max: 65535),
            webhookPath: try h.child("webhookPath").string(default: "/webhooks/woocommerce"),
            maxBodyBytes: try h.child("maxBodyBytes").int(default: 2 << 20, min: 1024),
            metricsToken: try environment["WOOQUEUE_METRICS_TOKEN"] ?? h.child("metricsToken").string(default: ""),
            idleTimeout: try h.child("idleTimeout").duration(default: .seconds(30), min: .milliseconds(100)),
            readTimeout: try h.child("readTimeout").duration(default: .seconds(30), min: .milliseconds(100)),
            maxConnections: try h.child("maxConnections").int(default: 256, min: 1, max: 65_536),
            maxUnverifiedBytes: try h.child("maxUnverifiedBytes").int(default: 64 << 20, min: 1024))
        guard http.maxUnverifiedBytes >= http.maxBodyBytes else {
            throw ConfigurationError("http.maxUnverifiedBytes (\(http.maxUnverifiedBytes)) must be at least http.maxBodyBytes (\(http.maxBodyBytes)), or no delivery of the largest size could be read")
        }
        if let port = try environmentPort("WOOQUEUE_HTTP_PORT", environment) { http.port = port }
        guard http.webhookPath.hasPrefix("/") else {
            throw ConfigurationError("http.webhookPath must start with /, got \"\(http.webhookPath)\"")
        }

        let wh = node.child("webhooks")
        try wh.allowOnly(["secrets", "deliveryRetention", "spoolDirectory", "spoolMaxBytes", "deliveryURL", "checkInterval", "autoRepair",
                          "catchUpMargin", "silenceAlert"])
        var webhooks = WebhookSettings(
            secrets: try wh.child("secrets").strings() ?? [],
            deliveryRetention: try wh.child("deliveryRetention").duration(default: .seconds(86_400), min: .seconds(60)),
            spoolDirectory: try wh.child("spoolDirectory").string(default: ".services/spool"),
            spoolMaxBytes: try wh.child("spoolMaxBytes").int(default: 1 << 30, min: 1 << 16))
        if let secret = environment["WOOQUEUE_WEBHOOK_SECRET"], !secret.isEmpty { webhooks.secrets.append(secret) }
        if webhooks.secrets.contains(where: \.isEmpty) { throw ConfigurationError("webhooks.secrets must not contain an empty secret") }
        webhooks.deliveryURL = try wh.child("deliveryURL").string(default: "")
        if !webhooks.deliveryURL.isEmpty, let problem = WebhookSettings.problem(deliveryURL: webhooks.deliveryURL) {
            throw ConfigurationError("webhooks.deliveryURL \(problem)")
        }
        webhooks.checkInterval = try wh.child("checkInterval").duration(default: .seconds(300))
        if webhooks.checkInterval > .zero, webhooks.checkInterval < .seconds(10) {
            throw ConfigurationError("webhooks.checkInterval must be 0 (off) or at least 10s: each check lists the store's webhooks, got \(DurationText.format(webhooks.checkInterval))")
        }
        webhooks.autoRepair = try wh.child("autoRepair").bool(default: false)
        webhooks.catchUpMargin = try wh.child("catchUpMargin").duration(default: .seconds(300))
        webhooks.silenceAlert = try wh.child("silenceAlert").duration(default: .zero)

        let routes = try decodeRoutes(node.child("routes"), jobTypes: jobTypes, queues: queues)
        var configuration = WooqueueConfiguration(
            redis: redis, database: database, workers: workers, backoff: backoff, queues: queues, jobTypes: jobTypes,
            http: http, webhooks: webhooks, routes: routes,
            inventory: try decodeInventory(node.child("inventory")),
            woocommerce: try decodeWooCommerce(node.child("woocommerce"), environment: environment))
        configuration.alerts = try decodeAlerts(node.child("alerts"), environment: environment)
        configuration.admin = try decodeAdmin(node.child("admin"), http: http, environment: environment)
        return configuration
    }

    private static func decodeAdmin(_ node: ConfigNode, http: HTTPSettings, environment: [String: String]) throws -> AdminSettings {
        try node.allowOnly(["host", "port", "token", "user", "password", "allowLoopbackWithoutCredentials"])
        var admin = AdminSettings()
        admin.host = try environment["WOOQUEUE_ADMIN_HOST"] ?? node.child("host").string(default: admin.host)
        admin.port = try environmentPort("WOOQUEUE_ADMIN_PORT", environment) ?? node.child("port").int(default: admin.port, min: 0, max: 65535)
        admin.token = try environment["WOOQUEUE_ADMIN_TOKEN"] ?? node.child("token").string(default: "")
        admin.user = try node.child("user").string(default: "")
        admin.password = try environment["WOOQUEUE_ADMIN_PASSWORD"] ?? node.child("password").string(default: "")
        admin.allowLoopbackWithoutCredentials = try node.child("allowLoopbackWithoutCredentials").bool(default: false)
        if admin.user.isEmpty != admin.password.isEmpty {
            throw ConfigurationError("admin.user and admin.password go together: set both for HTTP Basic, or neither")
        }
        if admin.user.contains(":") { throw ConfigurationError("admin.user must not contain ':' (HTTP Basic separates user and password with it)") }
        if admin.port != 0, admin.port == http.port {
            throw ConfigurationError("""
                admin.port and http.port are both \(admin.port): the admin listener (/admin, /metrics) needs a port of its \
                own, so that a proxy of the webhook port never reaches it
                """)
        }
        return admin
    }

    /// A port number from the environment, checked; `nil` when the variable is not set.
    private static func environmentPort(_ name: String, _ environment: [String: String]) throws -> Int? {
        guard let text = environment[name] else { return nil }
        guard let number = Int(text), (0...65535).contains(number) else {
            throw ConfigurationError("\(name) must be a port number, got \"\(text)\"")
        }
        return number
    }

    private static func decodeAlerts(_ node: ConfigNode, environment: [String: String]) throws -> AlertSettings {
        try node.allowOnly(["webhookURL", "checkInterval", "interval", "deadLetterThreshold", "pendingThreshold", "badSignaturesPerMinute"])
        var alerts = AlertSettings()
        alerts.webhookURL = try environment["WOOQUEUE_ALERT_WEBHOOK_URL"] ?? node.child("webhookURL").string(default: "")
        if !alerts.webhookURL.isEmpty {
            guard let url = URL(string: alerts.webhookURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ConfigurationError("alerts.webhookURL must be an http:// or https:// URL (a Slack-compatible incoming webhook), got \"\(alerts.webhookURL)\"")
            }
        }
        alerts.checkInterval = try node.child("checkInterval").duration(default: alerts.checkInterval, min: .milliseconds(50))
        alerts.interval = try node.child("interval").duration(default: alerts.interval)
        alerts.deadLetterThreshold = try node.child("deadLetterThreshold").int(default: alerts.deadLetterThreshold, min: 0)
        alerts.pendingThreshold = try node.child("pendingThreshold").int(default: alerts.pendingThreshold, min: 0)
        alerts.badSignaturesPerMinute = try node.child("badSignaturesPerMinute").int(default: alerts.badSignaturesPerMinute, min: 1)
        return alerts
    }

    private static func decodeInventory(_ node: ConfigNode) throws -> InventorySettings {
        try node.allowOnly(["table", "stateSchema", "deletion", "batchSize", "statementTimeout"])
        let table = try node.child("table").string(default: "public.inv_items")
        guard table.range(of: "^([A-Za-z_][A-Za-z0-9_]{0,62}\\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            throw ConfigurationError("inventory.table must be a plain table name such as \"public.inv_items\", got \"\(table)\"")
        }
        let stateSchema = try node.child("stateSchema").string(default: "wooqueue")
        guard stateSchema.range(of: "^[A-Za-z_][A-Za-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            throw ConfigurationError("inventory.stateSchema must be a plain schema name such as \"wooqueue\", got \"\(stateSchema)\"")
        }
        let deletionName = try node.child("deletion").string(default: "soft")
        guard let deletion = InventorySettings.DeletionMode(rawValue: deletionName) else {
            throw ConfigurationError("inventory.deletion must be \"soft\" (bloqueado = TRUE, existencia = 0) or \"hard\" (DELETE), got \"\(deletionName)\"")
        }
        return InventorySettings(
            table: table.contains(".") ? table : "public.\(table)", stateSchema: stateSchema, deletion: deletion,
            batchSize: try node.child("batchSize").int(default: 500, min: 1, max: 5000),
            statementTimeout: try node.child("statementTimeout").duration(default: .seconds(60), min: .seconds(1)))
    }

    private static func decodeWooCommerce(_ node: ConfigNode, environment: [String: String]) throws -> WooCommerceSettings {
        try node.allowOnly(["url", "consumerKey", "consumerSecret", "manageKey", "manageSecret", "authentication", "perPage", "timeout",
                            "reconcileInterval", "deletionSweepInterval", "caFile", "maxConcurrentRequests", "maxRequestsPerSecond",
                            "pagesInFlight"])
        let authentication = try node.child("authentication").choice(default: WooCommerceSettings.Authentication.auto)
        var url = try environment["WOOQUEUE_WOO_URL"] ?? node.child("url").string(default: "")
        while url.hasSuffix("/") { url.removeLast() }
        if !url.isEmpty {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ConfigurationError("woocommerce.url must be the store's http:// or https:// address, got \"\(url)\"")
            }
        }
        var settings = WooCommerceSettings(
            url: url,
            consumerKey: try environment["WOOQUEUE_WOO_KEY"] ?? node.child("consumerKey").string(default: ""),
            consumerSecret: try environment["WOOQUEUE_WOO_SECRET"] ?? node.child("consumerSecret").string(default: ""),
            authentication: authentication,
            perPage: try node.child("perPage").int(default: 100, min: 1, max: 100),
            timeout: try node.child("timeout").duration(default: .seconds(30), min: .seconds(1)),
            reconcileInterval: try node.child("reconcileInterval").duration(default: .seconds(900)))
        settings.caFile = try node.child("caFile").string(default: "")
        settings.deletionSweepInterval = try node.child("deletionSweepInterval").duration(default: .zero)
        if settings.deletionSweepInterval > .zero, settings.deletionSweepInterval < .seconds(600) {
            throw ConfigurationError("woocommerce.deletionSweepInterval must be 0 (off) or at least 10m: each sweep reads the whole catalogue, got \(DurationText.format(settings.deletionSweepInterval))")
        }
        settings.maxConcurrentRequests = try node.child("maxConcurrentRequests").int(default: 4, min: 0, max: 1000)
        settings.maxRequestsPerSecond = try node.child("maxRequestsPerSecond").int(default: 0, min: 0, max: 10_000)
        settings.pagesInFlight = try node.child("pagesInFlight").int(default: 2, min: 1, max: 16)
        settings.manageKey = try environment["WOOQUEUE_WOO_MANAGE_KEY"] ?? node.child("manageKey").string(default: "")
        settings.manageSecret = try environment["WOOQUEUE_WOO_MANAGE_SECRET"] ?? node.child("manageSecret").string(default: "")
        if settings.manageKey.isEmpty != settings.manageSecret.isEmpty {
            throw ConfigurationError("woocommerce.manageKey and manageSecret go together (WOOQUEUE_WOO_MANAGE_KEY / WOOQUEUE_WOO_MANAGE_SECRET): give both or neither")
        }
        if settings.caFile.isEmpty, let bundle = environment["SSL_CERT_FILE"], !bundle.isEmpty { settings.caFile = bundle }
        return settings
    }

    /// Topics routed when `routes` is not configured: the catalogue to the inventory table, and each order's
    /// stock back from the store. `config.json` adds the order fan-out to the example job types.
    static let defaultRoutes: [String: [(type: String, payload: RouteSettings.Payload, coalesce: Bool)]] = [
        "product.created": [("inventory.upsert", .resource, true)],
        "product.updated": [("inventory.upsert", .resource, true)],
        "product.restored": [("inventory.upsert", .resource, true)],
        "product.deleted": [("inventory.delete", .resource, false)],
        "order.created": [("stock_sync", .orderStock, false)],
    ]

    private static func decodeRoutes(_ node: ConfigNode, jobTypes: [String: JobTypeSettings], queues: [QueueSettings]) throws -> [String: [RouteSettings]] {
        func resolve(_ type: String, at path: String) throws -> JobTypeSettings {
            guard let settings = jobTypes[type] else {
                throw ConfigurationError("\(path) names job type \"\(type)\", which is not configured under jobTypes (configured: \(jobTypes.keys.sorted().joined(separator: ", ")))")
            }
            return settings
        }
        guard node.isPresent else {
            return try defaultRoutes.mapValues { jobs in
                try jobs.map { job in
                    let type = try resolve(job.type, at: "the default routes")
                    return RouteSettings(type: job.type, queue: type.queue, delay: .zero, payload: job.payload, coalesce: job.coalesce)
                }
            }
        }
        var routes: [String: [RouteSettings]] = [:]
        for (topic, jobsNode) in try node.members() {
            guard topic.range(of: "^[a-z_]+\\.[a-z_]+$", options: .regularExpression) != nil else {
                throw ConfigurationError("routes: \"\(topic)\" is not a WooCommerce topic such as \"product.updated\"")
            }
            guard case .array(let elements) = jobsNode.value else {
                throw ConfigurationError("routes.\(topic) must be an array of jobs such as [{\"type\": \"inventory.upsert\"}]")
            }
            routes[topic] = try elements.indices.map { index in
                let job = ConfigNode(value: elements[index], path: "routes.\(topic)[\(index)]")
                try job.allowOnly(["type", "queue", "delay", "payload", "coalesce"])
                let typeName = try job.child("type").string(default: "")
                let type = try resolve(typeName, at: "\(job.path).type")
                let queue = try job.child("queue").string(default: type.queue)
                guard queues.contains(where: { $0.name == queue }) else {
                    throw ConfigurationError("\(job.path).queue must be one of the configured queues, got \"\(queue)\"")
                }
                let payloadName = try job.child("payload").string(default: RouteSettings.Payload.resource.rawValue)
                guard let payload = RouteSettings.Payload(rawValue: payloadName) else {
                    let known = RouteSettings.Payload.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ConfigurationError("\(job.path).payload must be one of \(known), got \"\(payloadName)\"")
                }
                return RouteSettings(type: typeName, queue: queue, delay: try job.child("delay").duration(default: .zero), payload: payload,
                                     coalesce: try job.child("coalesce").bool(default: false))
            }
        }
        return routes
    }

    /// The four queues of the mission, used for whatever `queues` does not set.
    static let defaultQueues: [QueueSettings] = [
        QueueSettings(name: "high", workers: 3, retries: 5, maxDelay: .seconds(30)),
        QueueSettings(name: "medium", workers: 2, retries: 3, maxDelay: .seconds(300)),
        QueueSettings(name: "low", workers: 1, retries: 2, maxDelay: .seconds(1800)),
        QueueSettings(name: "bulk", workers: 1, retries: 1, maxDelay: .seconds(3600)),
    ]

    private static func decodeQueues(_ node: ConfigNode) throws -> [QueueSettings] {
        let members = try node.members()
        if members.isEmpty {
            if node.isPresent { throw ConfigurationError("queues must name at least one queue") }
            return defaultQueues
        }
        return try members.map { name, q in
            guard name.range(of: "^[a-z0-9_-]{1,32}$", options: .regularExpression) != nil else {
                throw ConfigurationError("queues.\(name): a queue name must be 1–32 of a–z, 0–9, _ and -")
            }
            try q.allowOnly(["workers", "retries", "maxDelay"])
            let base = defaultQueues.first { $0.name == name }
                ?? QueueSettings(name: name, workers: 1, retries: 3, maxDelay: .seconds(300))
            return QueueSettings(
                name: name,
                workers: try q.child("workers").int(default: base.workers, min: 1, max: 1000),
                retries: try q.child("retries").int(default: base.retries, min: 0, max: 100),
                maxDelay: try q.child("maxDelay").duration(default: base.maxDelay, min: .seconds(1)))
        }
    }

    /// Built-in job types, which a configuration may override member by member: `noop`, and the inventory types
    /// on the last queue (bulk by default). An inventory batch may wait for a lock up to
    /// `inventory.statementTimeout` (60 s by default); its job timeout is longer, so PostgreSQL cancels a stuck
    /// statement before the worker gives up on the jobs.
    static let builtInJobTypes: [(name: String, handler: String, timeout: Duration, settings: [(key: String, value: JSONValue)])] =
        [
            ("noop", "noop", .seconds(30), []),
            ("inventory.upsert", "inventory", .seconds(120), [("operation", .string("upsert"))]),
            ("inventory.delete", "inventory", .seconds(120), [("operation", .string("delete"))]),
            ("stock_sync", "stock_sync", .seconds(120), []),
        ]

    private static func decodeJobTypes(_ node: ConfigNode, queues: [QueueSettings]) throws -> [String: JobTypeSettings] {
        let lastQueue = queues.last?.name ?? "bulk"
        var types: [String: JobTypeSettings] = [:]
        var builtInSettings: [String: [(key: String, value: JSONValue)]] = [:]
        for type in builtInJobTypes {
            types[type.name] = JobTypeSettings(name: type.name, queue: lastQueue, handler: type.handler, timeout: type.timeout,
                                               retries: nil, settings: ConfigNode(value: .object(type.settings), path: "jobTypes.\(type.name)"))
            builtInSettings[type.name] = type.settings
        }
        for (name, t) in try node.members() {
            guard JobID.isValid(name) else {
                throw ConfigurationError("jobTypes.\(name): a type name must be 1–64 of A–Z, a–z, 0–9, '.', '_', ':' and '-'")
            }
            _ = try t.members()  // an object, or a clear error
            let queue = try t.child("queue").string(default: types[name]?.queue ?? "")
            guard queues.contains(where: { $0.name == queue }) else {
                let known = queues.map(\.name).joined(separator: ", ")
                throw ConfigurationError("jobTypes.\(name).queue must be one of the configured queues (\(known)), got \"\(queue)\"")
            }
            let handler = try t.child("handler").string(default: types[name]?.handler ?? "")
            guard !handler.isEmpty else {
                throw ConfigurationError("jobTypes.\(name).handler is missing: name the handler kind (noop, http, exec, inventory, stock_sync, or one registered in code)")
            }
            if name == "stock_sync", handler == "inventory" {
                // Before the open handler registry, stock_sync was an inventory type picked by its name.
                throw ConfigurationError("""
                    jobTypes.stock_sync.handler is "inventory", which would now upsert its payload as a product: stock_sync \
                    has a handler of its own since this version, so write "handler": "stock_sync" (or leave the type out)
                    """)
            }
            // The handler's settings: the built-in type's, overridden member by member by the file's, as long as
            // the handler kind is the built-in one.
            var own = types[name]?.handler == handler ? builtInSettings[name] ?? [] : []
            for (key, member) in try t.members() where !JobTypeSettings.commonKeys.contains(key) {
                own.removeAll { $0.key == key }
                own.append((key, member.value ?? .null))
            }
            types[name] = JobTypeSettings(
                name: name, queue: queue, handler: handler,
                timeout: try t.child("timeout").duration(default: types[name]?.timeout ?? .seconds(30), min: .milliseconds(1)),
                retries: t.child("retries").isPresent ? try t.child("retries").int(default: 0, min: 0, max: 100) : nil,
                settings: ConfigNode(value: .object(own), path: "jobTypes.\(name)"),
                flow: try decodeFlowLimits(t))
        }
        return types
    }

    /// `concurrency`, `concurrencyKey`, `rateLimit`, `burst`, `rateLimitKey` and `breaker` of one job type.
    private static func decodeFlowLimits(_ t: ConfigNode) throws -> FlowLimits {
        func keySource(_ name: String) throws -> FlowKeySource? {
            guard let text = try t.child(name).optionalString() else { return nil }
            guard let source = FlowKeySource(text) else {
                throw ConfigurationError("\(t.path).\(name) must be \"key\" (the job's key) or \"payload.<member>\" (a top-level member of its payload), got \"\(text)\"")
            }
            return source
        }
        var flow = FlowLimits()
        if t.child("concurrency").isPresent { flow.concurrency = try t.child("concurrency").int(default: 1, min: 1, max: 100_000) }
        flow.concurrencyKey = try keySource("concurrencyKey")
        let burst = try t.child("burst").int(default: 1, min: 1, max: 1_000_000)
        if let text = try t.child("rateLimit").optionalString() {
            guard let rate = FlowLimits.Rate.parse(text, burst: burst) else {
                throw ConfigurationError("\(t.path).rateLimit must be calls per second, minute or hour, such as \"10/s\", \"600/m\" or \"1000/h\" (a whole number from 1 to 1000000), got \"\(text)\"")
            }
            flow.rate = rate
        } else if t.child("burst").isPresent {
            throw ConfigurationError("\(t.path).burst needs \(t.path).rateLimit: a burst is the size of a rate limit's bucket")
        }
        flow.rateLimitKey = try keySource("rateLimitKey")
        if flow.concurrencyKey != nil, flow.concurrency == nil {
            throw ConfigurationError("\(t.path).concurrencyKey needs \(t.path).concurrency: the limit to hold per key")
        }
        if flow.rateLimitKey != nil, flow.rate == nil {
            throw ConfigurationError("\(t.path).rateLimitKey needs \(t.path).rateLimit: the rate to hold per key")
        }
        let b = t.child("breaker")
        if b.isPresent {
            try b.allowOnly(["failures", "coolDown"])
            flow.breaker = FlowLimits.Breaker(failures: try b.child("failures").int(default: 5, min: 1, max: 10_000),
                                              coolDown: try b.child("coolDown").duration(default: .seconds(30), min: .milliseconds(100)))
        }
        return flow
    }
}
