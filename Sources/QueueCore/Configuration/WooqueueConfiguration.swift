import Foundation

/// The whole configuration: `config.json` decoded into one typed tree, with environment overrides applied.
public struct WooqueueConfiguration: Sendable {
    public var redis: RedisSettings
    public var database: DatabaseSettings
    public var workers: WorkerSettings
    public var backoff: BackoffSettings
    /// Queues from the highest priority to the lowest.
    public var queues: [QueueSettings]
    public var jobTypes: [String: JobTypeSettings]
    public var http: HTTPSettings
    public var webhooks: WebhookSettings
    /// WooCommerce topic (`product.updated`) → the jobs a delivery of it becomes.
    public var routes: [String: [RouteSettings]]
    public var inventory: InventorySettings
    public var woocommerce: WooCommerceSettings
    public var alerts: AlertSettings = AlertSettings()
    public var admin: AdminSettings = AdminSettings()

    /// The admin listener (`/admin`, `/metrics`) and who may use it.
    ///
    /// It is a listener of its own, on loopback by default, so a proxy that forwards the webhook port never
    /// exposes it. Every request needs a credential, unless `allowLoopbackWithoutCredentials` opts in to serving
    /// direct requests from this host without one.
    public struct AdminSettings: Sendable {
        /// Address of the admin listener; `WOOQUEUE_ADMIN_HOST` / `WOOQUEUE_ADMIN_PORT` override.
        public var host = "127.0.0.1"
        public var port = 8081
        /// Accepted as `Authorization: Bearer <token>`; `WOOQUEUE_ADMIN_TOKEN` overrides.
        public var token = ""
        /// HTTP Basic credentials (what a browser asks for); `WOOQUEUE_ADMIN_PASSWORD` overrides the password.
        public var user = ""
        public var password = ""
        /// Serve requests without credentials when they come straight from this host: over loopback, to a
        /// loopback `Host`, and with no proxy's forwarding header.
        public var allowLoopbackWithoutCredentials = false

        public init() {}

        /// True when some credential is configured.
        public var hasCredentials: Bool { !token.isEmpty || (!user.isEmpty && !password.isEmpty) }

        /// True when the listener binds a loopback address only.
        public var listensOnLoopback: Bool { Self.isLoopback(host: host) }

        /// True for the names of this host's loopback interface: `localhost`, 127.0.0.0/8 and `::1` (bare or in
        /// brackets, as a `Host` header carries it).
        public static func isLoopback(host: some StringProtocol) -> Bool {
            let name = host.lowercased()
            if name == "localhost" || name == "::1" || name == "[::1]" { return true }
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && (UInt8(part) != nil)
            }
        }
    }

    /// When `serve` sends an alert, and where to.
    public struct AlertSettings: Sendable {
        /// A Slack-compatible incoming webhook (POST `{"text": …}`); empty: no alerts are sent (they are still
        /// evaluated and shown). `WOOQUEUE_ALERT_WEBHOOK_URL` overrides.
        public var webhookURL = ""
        /// How often the conditions are evaluated.
        public var checkInterval: Duration = .seconds(30)
        /// The same announcement (firing, or resolved) of a condition is sent at most once per interval.
        public var interval: Duration = .seconds(15 * 60)
        /// Dead-lettered jobs of a queue above which it alerts.
        public var deadLetterThreshold = 10
        /// Ready and delayed jobs of a queue above which it alerts.
        public var pendingThreshold = 100
        /// Deliveries with a bad signature per minute, in one process, from which it alerts.
        public var badSignaturesPerMinute = 10

        public init() {}
    }

    public struct HTTPSettings: Sendable {
        /// Address `serve` listens on; `WOOQUEUE_HTTP_HOST` / `WOOQUEUE_HTTP_PORT` override.
        public var host: String
        public var port: Int
        /// Where WooCommerce delivers webhooks.
        public var webhookPath: String
        /// Larger bodies are refused with 413.
        public var maxBodyBytes: Int
        /// The bearer token `GET /metrics` asks for; empty: none. `WOOQUEUE_METRICS_TOKEN` overrides.
        public var metricsToken: String = ""
        /// A connection with no request in progress, or whose request head is still arriving, is closed after
        /// this long.
        public var idleTimeout: Duration = .seconds(30)
        /// A request's body must arrive within this long after its head, or its connection is closed.
        public var readTimeout: Duration = .seconds(30)
        /// Connections served at once; more wait in the listen backlog.
        public var maxConnections: Int = 256
        /// Bytes of webhook bodies held before their signature is checked, across all connections; a delivery that
        /// would pass it is answered 503 (WooCommerce deliveries are a few KB, so only a flood reaches it).
        public var maxUnverifiedBytes: Int = 64 << 20
    }

    public struct WebhookSettings: Sendable {
        /// Webhook secrets as entered in WooCommerce; `WOOQUEUE_WEBHOOK_SECRET` adds one.
        public var secrets: [String]
        /// How long a delivery id is remembered to drop repeats.
        public var deliveryRetention: Duration
        /// Where deliveries are kept while Redis is unreachable.
        public var spoolDirectory: String
        /// Past this size the spool refuses deliveries (503) rather than fill the disk.
        public var spoolMaxBytes: Int
    }

    public struct RouteSettings: Sendable, Equatable {
        /// What a routed job carries.
        public enum Payload: String, Sendable, CaseIterable {
            /// The delivered resource as it is (a product, an order).
            case resource
            /// For the ERP: order number, total, currency and items (sku, qty, total).
            case erpOrder = "erp_order"
            /// For `stock_sync`: the order's products and variations (ids and SKUs).
            case orderStock = "order_stock"
        }
        public var type: String
        /// The type's queue unless the route names another.
        public var queue: String
        public var delay: Duration
        public var payload: Payload
        /// Waiting jobs of this route for the same resource merge, keeping the newest `date_modified_gmt`.
        public var coalesce: Bool

        public init(type: String, queue: String, delay: Duration, payload: Payload, coalesce: Bool) {
            self.type = type
            self.queue = queue
            self.delay = delay
            self.payload = payload
            self.coalesce = coalesce
        }
    }

    public struct RedisSettings: Sendable {
        /// `redis://[:password@]host:port/db`; overridden by `WOOQUEUE_REDIS_URL`.
        public var url: String
        /// First part of every key (`wq:{high}:ready`); lets several installations share one Redis.
        public var keyPrefix: String
        /// Start even when Redis may evict keys (`maxmemory-policy` other than `noeviction`). Jobs can then be lost.
        public var allowEviction: Bool
    }

    public struct DatabaseSettings: Sendable {
        /// A libpq URL; overridden by `WOOQUEUE_DATABASE_URL`.
        public var url: String
    }

    public struct WorkerSettings: Sendable {
        /// How often a worker process renews its heartbeat.
        public var heartbeatInterval: Duration
        /// How long a heartbeat lives; a process silent for this long is dead and its jobs are recovered.
        public var processTimeout: Duration
        /// How often each process looks for dead processes.
        public var recoveryInterval: Duration
        /// Recoveries after which a job is dead-lettered instead of run again (it keeps killing workers).
        public var maxRecoveries: Int
        /// How long in-flight jobs may run after SIGTERM/SIGINT before they are returned to their queue.
        public var shutdownGrace: Duration
        /// Most jobs one worker takes from Redis in one round trip when the queue is busy.
        public var fetchBatch: Int
        /// How often due delayed jobs and retries are moved to their ready list.
        public var schedulerInterval: Duration
        /// How long a job's status stays readable by id after its last change.
        public var statusRetention: Duration
        /// How many events each queue's log keeps.
        public var eventsKept: Int
    }

    public struct BackoffSettings: Sendable {
        public var base: Duration
        public var factor: Double
        public var cap: Duration
        /// Random spread applied to each delay, as a fraction: 0.1 means ±10 %.
        public var jitter: Double
    }

    public struct QueueSettings: Sendable {
        public var name: String
        /// Concurrent jobs per worker process.
        public var workers: Int
        /// Retries after the first attempt, for job types that do not set their own.
        public var retries: Int
        /// How long a job may wait before the queue counts as late.
        public var maxDelay: Duration
    }

    public struct InventorySettings: Sendable {
        public enum DeletionMode: String, Sendable, CaseIterable {
            /// `bloqueado = TRUE`, `existencia = 0`: the ERP keeps the row.
            case soft
            /// `DELETE` the row.
            case hard
        }
        /// The ERP's table, `schema.table` (case-sensitive).
        public var table: String
        /// wooqueue's own schema: the SKU function and the bookkeeping table.
        public var stateSchema: String
        public var deletion: DeletionMode
        /// Most upsert jobs a bulk worker writes in one statement.
        public var batchSize: Int
        /// PostgreSQL `statement_timeout` for inventory writes, so a stuck lock cannot hold a worker for ever.
        public var statementTimeout: Duration
    }

    public struct WooCommerceSettings: Sendable {
        public enum Authentication: String, Sendable, CaseIterable {
            /// HTTP Basic over https, OAuth 1.0a over plain http.
            case auto
            /// HTTP Basic with the consumer key and secret (https only).
            case basic
            /// `consumer_key` / `consumer_secret` query parameters (https only; for servers that drop the
            /// Authorization header).
            case query
            /// OAuth 1.0a one-legged, HMAC-SHA256 (plain http).
            case oauth
        }
        /// The store's address, e.g. `https://shop.example.com`; `WOOQUEUE_WOO_URL` overrides. Empty: no REST calls.
        public var url: String
        /// REST API keys; `WOOQUEUE_WOO_KEY` / `WOOQUEUE_WOO_SECRET` override.
        public var consumerKey: String
        public var consumerSecret: String
        public var authentication: Authentication
        /// Products per page (WooCommerce allows at most 100).
        public var perPage: Int
        /// One request's time limit.
        public var timeout: Duration
        /// How often `serve` sweeps for products modified since the last sweep; zero turns it off.
        public var reconcileInterval: Duration
        /// PEM file of the certificate authorities an https store's certificate must chain to, instead of the
        /// system's (a store with a private CA); empty: the system's. `SSL_CERT_FILE` applies when it is not set.
        public var caFile = ""

        public init(url: String, consumerKey: String, consumerSecret: String, authentication: Authentication, perPage: Int,
                    timeout: Duration, reconcileInterval: Duration) {
            self.url = url
            self.consumerKey = consumerKey
            self.consumerSecret = consumerSecret
            self.authentication = authentication
            self.perPage = perPage
            self.timeout = timeout
            self.reconcileInterval = reconcileInterval
        }
    }

    /// A job type: its queue, its handler kind and the queue-level settings every type has. What the handler itself
    /// reads (an `http` handler's URL, an `exec` handler's command) stays in ``settings``, for the handler kind's
    /// factory to read and check (Workers' `HandlerKinds`).
    public struct JobTypeSettings: Sendable {
        /// The keys every type has; the others belong to its handler.
        public static let commonKeys: Set<String> = ["queue", "handler", "timeout", "retries"]

        public var name: String
        public var queue: String
        /// The handler kind, as registered (`noop`, `http`, `exec`, `inventory`, `stock_sync`, or one of yours).
        public var handler: String
        public var timeout: Duration
        /// Retries after the first attempt; `nil` takes the queue's.
        public var retries: Int?
        /// The handler's own settings: the type's members other than ``commonKeys``, at `jobTypes.<name>`.
        public var settings: ConfigNode

        public init(name: String, queue: String, handler: String, timeout: Duration, retries: Int?, settings: ConfigNode) {
            self.name = name
            self.queue = queue
            self.handler = handler
            self.timeout = timeout
            self.retries = retries
            self.settings = settings
        }
    }

    public func queue(named name: String) -> QueueSettings? {
        queues.first { $0.name == name }
    }

    /// Attempts allowed for a job of `type` on `queue`: one plus the type's or else the queue's retries.
    public func maxAttempts(type: String, queue: String) -> Int {
        let retries = jobTypes[type]?.retries ?? self.queue(named: queue)?.retries ?? 0
        return retries + 1
    }
}
