public import CoreMetrics
public import Dispatcher
public import Inventory
public import Logging
public import Operations
public import QueueCore
public import Routing
public import Workers

/// Each module's part of the configuration, as the module's own type: the one place that hands them out.
extension WooqueueConfiguration {
    /// The router's part: the routes, and the job types and queues they name.
    public var routing: DeliveryRouter.Configuration {
        DeliveryRouter.Configuration(routes: routes, queue: queueConfiguration)
    }

    /// The intake's part: the `webhooks` section and the routes.
    public var intake: WebhookIntake.Configuration {
        WebhookIntake.Configuration(webhooks: webhooks, routing: routing)
    }
}

extension DeliveryRouter {
    public init(configuration: WooqueueConfiguration) {
        self.init(configuration: configuration.routing)
    }
}

extension WebhookIntake {
    public convenience init(configuration: WooqueueConfiguration, store: QueueStore, metrics: any MetricsFactory = MetricsSystem.factory,
                            logger: Logger) throws {
        try self.init(configuration: configuration.intake, store: store, metrics: metrics, logger: logger)
    }
}

extension WorkerProcess {
    public convenience init(configuration: WooqueueConfiguration, registry: HandlerRegistry, options: Options = Options(),
                            observer: (any JobObserver)? = nil, metrics: any MetricsFactory = MetricsSystem.factory, logger: Logger) throws {
        try self.init(configuration: configuration.queueConfiguration, registry: registry, options: options, observer: observer,
                      metrics: metrics, logger: logger)
    }
}

extension AdminDashboard {
    public convenience init(configuration: WooqueueConfiguration, store: QueueStore, access: AdminAccess, catalogue: CatalogueAccess?,
                            webhooks: WebhookAccess? = nil, logger: Logger) throws {
        try self.init(routing: configuration.routing, store: store, access: access, catalogue: catalogue, webhooks: webhooks, logger: logger)
    }
}

extension AlertMonitor {
    public convenience init(configuration: WooqueueConfiguration, store: QueueStore, process: String,
                            readings: @escaping @Sendable () async -> LocalReadings,
                            webhookFindings: (@Sendable () async -> [String: String]?)? = nil, logger: Logger) {
        self.init(settings: configuration.alerts, queues: configuration.queues, jobTypes: configuration.jobTypes, store: store, process: process, readings: readings,
                  webhookFindings: webhookFindings, watchedTopics: Array(configuration.routes.keys),
                  silence: configuration.webhooks.silenceAlert, logger: logger)
    }
}

extension DeadLetterReview {
    public init(configuration: WooqueueConfiguration, store: QueueStore) {
        self.init(routing: configuration.routing, store: store)
    }

    /// The dead-letter lists of this configuration's queues, and the kept deliveries'.
    public static func queues(_ configuration: WooqueueConfiguration) -> [String] {
        queues(configuration.queueConfiguration)
    }
}

extension HandlerKinds {
    /// The inventory kinds, for this configuration's types, database and table.
    public mutating func registerInventory(configuration: WooqueueConfiguration, source: (any ProductSource)?, counters: QueueStore?,
                                           metrics: any MetricsFactory = MetricsSystem.factory, logger: Logger) throws {
        try registerInventory(queue: configuration.queueConfiguration, database: configuration.database, inventory: configuration.inventory,
                              source: source, counters: counters, metrics: metrics, logger: logger)
    }
}
