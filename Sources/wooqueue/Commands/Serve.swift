import AppConfiguration
import ArgumentParser
import CommandSupport
import Dispatcher
import StoreSync
import Foundation
import Inventory
import Logging
import Metrics
import Operations
import PostgresClient
import Prometheus
import QueueCore
import ServiceLifecycle
import UnixSignals
import WooCommerceAPI
import Workers

/// `wooqueue serve`: the webhook intake, and worker pools unless told not to.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive WooCommerce webhooks over HTTP and run the worker pools.",
        discussion: """
            POST http://HOST:PORT/webhooks/woocommerce (http.webhookPath) receives deliveries; GET /healthz says the \
            process is alive, GET /readyz whether Redis is reachable. Nothing else answers on that port: proxy only it. \
            The admin listener (admin.host:admin.port, 127.0.0.1:8081 by default) serves GET /admin, the dashboard \
            and the dead-letter review, and GET /metrics, the cluster's queues and this process's counters for \
            Prometheus. It needs a credential (admin.token, admin.user/password, or http.metricsToken for /metrics) \
            unless admin.allowLoopbackWithoutCredentials opts in. Alerts go to alerts.webhookURL. With --no-workers \
            the process only receives (run `wooqueue work` elsewhere). SIGTERM/SIGINT stop it gracefully.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Address to listen on (default: http.host).")
    var host: String?

    @Option(name: .long, help: "Port to listen on (default: http.port).")
    var port: Int?

    @Flag(name: .long, help: "Only receive webhooks; run no worker pools here.")
    var noWorkers = false

    @Flag(name: .long, help: "Start even if Redis may evict keys (maxmemory-policy other than noeviction). Jobs can be lost.")
    var allowEviction = false

    func run() async throws {
        var configuration = try global.load()
        if let host { configuration.http.host = host }
        if let port { configuration.http.port = port }
        if allowEviction { configuration.redis.allowEviction = true }
        guard !configuration.webhooks.secrets.isEmpty else {
            throw ValidationError("""
                no webhook secret is configured, so every delivery would be refused: put the secret of your \
                WooCommerce webhook (WooCommerce → Settings → Advanced → Webhooks) in webhooks.secrets in \
                config.json, or in WOOQUEUE_WEBHOOK_SECRET
                """)
        }
        guard configuration.admin.listensOnLoopback || configuration.admin.hasCredentials else {
            throw ValidationError("""
                admin.host is \(configuration.admin.host), which is not a loopback address, and no admin credential is \
                set: /admin and /metrics would be open to the network. Set admin.token (WOOQUEUE_ADMIN_TOKEN) or \
                admin.user and admin.password, or keep admin.host on 127.0.0.1
                """)
        }
        let logger = global.logger("serve")
        StartupWarnings.database(configuration.database.url, logger: logger)
        let store = try configuration.makeStore(label: "readiness")
        try await store.checkServer(allowEviction: configuration.redis.allowEviction)
        // One registry for the process metrics (swift-metrics) and the cluster's queue gauges: one scrape shows both.
        // Bootstrapped before anything makes a metric: a counter made earlier keeps the no-op backend for good.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusExport(registry: registry, metrics: ProcessMetric.workers + ProcessMetric.intake + ProcessMetric.inventory + ProcessMetric.redis
                                                                      + ProcessMetric.webhookCheck))
        let intake = try WebhookIntake(configuration: configuration, store: try configuration.makeStore(label: "intake"), logger: logger)
        let address = "http://\(configuration.http.host):\(configuration.http.port)\(configuration.http.webhookPath)"
        let access = AdminAccess(settings: configuration.admin, metricsToken: configuration.http.metricsToken)
        let metrics = MetricsEndpoint(
            metrics: ClusterMetrics(store: try configuration.makeStore(label: "metrics"), queues: configuration.queues, jobTypes: configuration.jobTypes, registry: registry),
            access: access)
        let dashboard = try AdminDashboard(configuration: configuration, store: try configuration.makeStore(label: "admin"), access: access,
                                           catalogue: try catalogueAccess(configuration, logger: logger),
                                           webhooks: try webhookAccess(configuration, logger: logger), logger: logger)
        let adminHost = configuration.admin.host
        let adminAccessText = access.hasCredentials ? "credentials"
            : configuration.admin.allowLoopbackWithoutCredentials ? "credentials, or none from this host" : "refused: no credential is set"
        let listeners = buildApplication(
            configuration: configuration, intake: intake, readiness: store, dashboard: dashboard, metrics: metrics, logger: logger,
            onWebhooksListening: { port in
                logger.notice("Receiving WooCommerce webhooks", metadata: ["url": "\(address)", "port": "\(port)"])
            },
            onAdminListening: { port in
                logger.notice("Serving /admin and /metrics", metadata: [
                    "url": "http://\(adminHost):\(port)/admin", "port": "\(port)", "access": "\(adminAccessText)"])
            })
        let watchdog = try webhookWatchdog(configuration, logger: logger)
        let alertStore = try configuration.makeStore(label: "alerts")
        var findings: (@Sendable () async -> [String: String]?)?
        if watchdog != nil { findings = { try? await alertStore.periodicTask(WebhookWatchdog.task).notes("findings") } }
        let alerts = AlertMonitor(configuration: configuration, store: alertStore,
                                  process: "\(ProcessInfo.processInfo.hostName):\(getpid())", readings: {
                                      let spool = intake.spoolReadings, counts = intake.countsSoFar
                                      RedisHealth.reportFailovers()
                                      return LocalReadings(badSignatures: counts.badSignatures, spooledDeliveries: spool.bytes,
                                                           spoolStuck: spool.isStuck, quarantinedBytes: spool.quarantinedBytes,
                                                           overloadedDeliveries: counts.overloaded,
                                                           replicationShortfalls: RedisHealth.replicationShortfalls,
                                                           failovers: RedisHealth.failovers)
                                  }, webhookFindings: findings, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: intake), .init(service: listeners.webhooks), .init(service: listeners.admin), .init(service: alerts)]
        if !configuration.woocommerce.url.isEmpty, configuration.woocommerce.reconcileInterval > .zero {
            let client = try configuration.makeStoreClient(logger: logger)
            let reconciler = Reconciler(client: client, store: try configuration.makeStore(label: "reconcile"), routing: configuration.routing,
                                        orderRetention: configuration.webhooks.deliveryRetention)
            services.append(.init(service: ReconcileService(reconciler: reconciler, interval: configuration.woocommerce.reconcileInterval, logger: logger)))
        }
        if !configuration.woocommerce.url.isEmpty, configuration.woocommerce.deletionSweepInterval > .zero {
            let writer = InventoryWriter(connection: PostgresConnection(url: configuration.database.url, label: "deletion-sweep"),
                                         settings: configuration.inventory)
            let sweep = Bootstrap(client: try configuration.makeStoreClient(logger: logger),
                                  store: try configuration.makeStore(label: "deletion-sweep"), writer: writer, routing: configuration.routing,
                                  task: "deletion-sweep")
            services.append(.init(service: DeletionSweepService(sweep: sweep, interval: configuration.woocommerce.deletionSweepInterval, logger: logger)))
        }
        if let watchdog { services.append(.init(service: watchdog)) }
        if !noWorkers {
            let workers = try WorkerProcess(configuration: configuration, registry: try configuration.makeRegistry(logger: logger), logger: logger)
            services.append(.init(service: workers))
        }
        try await ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }

    /// The store's webhooks against the routes, when the store's REST API and the delivery URL are set.
    private func webhookSync(_ configuration: WooqueueConfiguration, label: String, logger: Logger) throws -> WebhookSync? {
        guard !configuration.woocommerce.url.isEmpty, !configuration.webhooks.deliveryURL.isEmpty else { return nil }
        let settings = configuration.woocommerce
        let manager = settings.manageKey.isEmpty ? nil : try configuration.makeStoreClient(try settings.managing(), logger: logger)
        return WebhookSync(reader: try configuration.makeStoreClient(settings, logger: logger), manager: manager,
                           store: try configuration.makeStore(label: label), topics: Array(configuration.routes.keys),
                           deliveryURL: configuration.webhooks.deliveryURL)
    }

    /// The dashboard's webhooks panel: the check's view of each routed topic, and its Repair button.
    private func webhookAccess(_ configuration: WooqueueConfiguration, logger: Logger) throws -> WebhookAccess? {
        guard let sync = try webhookSync(configuration, label: "admin-webhooks", logger: logger) else { return nil }
        let status: @Sendable () async throws -> [WebhookAccess.Row] = {
            try await sync.status().topics.map { topic -> WebhookAccess.Row in
                let state = topic.problem ?? "active (webhook \(topic.webhooks.first?.id ?? 0))"
                let refused = topic.webhooks.reduce(0) { $0 + $1.refusedSignatures }
                return WebhookAccess.Row(topic: topic.topic, state: state, healthy: topic.healthy, lastDelivery: topic.lastDelivery,
                                         refusedSignatures: refused)
            }
        }
        var repair: (@Sendable () async throws -> [String])?
        if !configuration.woocommerce.manageKey.isEmpty, let secret = configuration.webhooks.secrets.first {
            repair = { try await sync.apply(try await sync.plan(secret: secret)) }
        }
        return WebhookAccess(status: status, repair: repair)
    }

    /// The webhook check, when the store's REST API, the delivery URL and a check interval are set.
    private func webhookWatchdog(_ configuration: WooqueueConfiguration, logger: Logger) throws -> WebhookWatchdog? {
        let webhooks = configuration.webhooks
        guard webhooks.checkInterval > .zero, let sync = try webhookSync(configuration, label: "webhook-watchdog", logger: logger) else { return nil }
        if webhooks.autoRepair, configuration.woocommerce.manageKey.isEmpty {
            throw ValidationError("webhooks.autoRepair needs woocommerce.manageKey and manageSecret: REST keys with Read/Write access of a user who can manage WooCommerce")
        }
        let store = try configuration.makeStore(label: "webhook-watchdog")
        let reader = try configuration.makeStoreClient(logger: logger)
        return WebhookWatchdog(
            sync: sync,
            reconciler: Reconciler(client: reader, store: store, routing: configuration.routing, orderRetention: webhooks.deliveryRetention),
            store: store,
            settings: .init(interval: webhooks.checkInterval, autoRepair: webhooks.autoRepair, catchUpMargin: webhooks.catchUpMargin,
                            secret: webhooks.secrets.first),
            logger: logger)
    }

    /// The table and store figures of /admin, and its comparison (the store's only with its REST API configured).
    private func catalogueAccess(_ configuration: WooqueueConfiguration, logger: Logger) throws -> CatalogueAccess {
        let writer = InventoryWriter(connection: PostgresConnection(url: configuration.database.url, label: "admin"),
                                     settings: configuration.inventory)
        guard !configuration.woocommerce.url.isEmpty else {
            return CatalogueAccess(tableRows: { try await writer.rowCount() }, storeProducts: nil, compare: nil)
        }
        let client = try configuration.makeStoreClient(logger: logger)
        let bootstrap = Bootstrap(client: client, store: try configuration.makeStore(label: "admin-bootstrap"), writer: writer, routing: configuration.routing)
        return CatalogueAccess(tableRows: { try await writer.rowCount() }, storeProducts: { try await client.productCount() },
                               compare: { progress in try await bootstrap.run(.init(), progress: progress).summary })
    }
}
