public import Dispatcher
public import Inventory
public import Operations
public import QueueCore
public import Routing
public import WooCommerceAPI

/// The whole configuration: `config.json` decoded into one typed tree, with environment overrides applied. Each
/// module owns the type of its sections; this is the one place that reads the file, checks every field and
/// hands each module its part (``queueConfiguration`` to the queue and the workers, `http` and `webhooks` to the
/// intake, `routes` to the router, and so on).
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

    public typealias RedisSettings = QueueConfiguration.RedisSettings
    public typealias WorkerSettings = QueueConfiguration.WorkerSettings
    public typealias BackoffSettings = QueueConfiguration.BackoffSettings
    public typealias QueueSettings = QueueConfiguration.QueueSettings
    public typealias JobTypeSettings = QueueConfiguration.JobTypeSettings
    public typealias DatabaseSettings = Inventory.DatabaseSettings
    public typealias InventorySettings = Inventory.InventorySettings
    public typealias HTTPSettings = Dispatcher.HTTPSettings
    public typealias WebhookSettings = Dispatcher.WebhookSettings
    public typealias RouteSettings = Routing.RouteSettings
    public typealias WooCommerceSettings = WooCommerceAPI.WooCommerceSettings
    public typealias AlertSettings = Operations.AlertSettings
    public typealias AdminSettings = Operations.AdminSettings

    init(redis: RedisSettings, database: DatabaseSettings, workers: WorkerSettings, backoff: BackoffSettings, queues: [QueueSettings],
         jobTypes: [String: JobTypeSettings], http: HTTPSettings, webhooks: WebhookSettings, routes: [String: [RouteSettings]],
         inventory: InventorySettings, woocommerce: WooCommerceSettings) {
        self.redis = redis
        self.database = database
        self.workers = workers
        self.backoff = backoff
        self.queues = queues
        self.jobTypes = jobTypes
        self.http = http
        self.webhooks = webhooks
        self.routes = routes
        self.inventory = inventory
        self.woocommerce = woocommerce
    }

    /// The queue's and the workers' section.
    public var queueConfiguration: QueueConfiguration {
        QueueConfiguration(redis: redis, workers: workers, backoff: backoff, queues: queues, jobTypes: jobTypes)
    }

    public func queue(named name: String) -> QueueSettings? { queueConfiguration.queue(named: name) }

    /// Attempts allowed for a job of `type` on `queue`: one plus the type's or else the queue's retries.
    public func maxAttempts(type: String, queue: String) -> Int { queueConfiguration.maxAttempts(type: type, queue: queue) }
}
