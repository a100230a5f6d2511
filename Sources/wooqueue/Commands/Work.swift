import AppConfiguration
import ArgumentParser
import CommandSupport
import Dispatcher
import Foundation
import HTTPServer
import Inventory
import Logging
import Metrics
import Operations
import Prometheus
import QueueCore
import ServiceLifecycle
import UnixSignals
import Workers

/// `wooqueue work`: runs worker pools until SIGTERM or SIGINT.
struct Work: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run worker pools until signalled (SIGTERM/SIGINT stop gracefully).",
        discussion: "Start more of these, on this or other hosts, to scale out: they share the queues in Redis.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Comma-separated queues to work on (default: all).", valueName: "q1,q2"))
    var queues: String?

    @Flag(name: .long, help: "Start even if Redis may evict keys (maxmemory-policy other than noeviction). Jobs can be lost.")
    var allowEviction = false

    @Option(name: .long, help: ArgumentHelp(
        "Serve GET /metrics on this port: the cluster's queues and this process's counters, as `serve` does.",
        discussion: "Same access rules as serve's /metrics (http.metricsToken or an admin credential)."))
    var metricsPort: Int?

    @Option(name: .long, help: "Address for --metrics-port (default: admin.host, 127.0.0.1).")
    var metricsHost: String?

    func run() async throws {
        var configuration = try global.load()
        if allowEviction { configuration.redis.allowEviction = true }
        let names = queues.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if let names { try configuration.validateQueues(names) }
        let logger = global.logger("work")
        StartupWarnings.database(configuration.database.url, logger: logger)
        // Before the worker process is made: its job metrics take the metrics backend there.
        let metrics = try metricsPort.map { try metricsListener(configuration, port: $0, logger: logger) }
        let process = try WorkerProcess(configuration: configuration, registry: try configuration.makeRegistry(logger: logger),
                                        options: .init(queues: names), logger: logger)
        try await WorkerProcessRunner.run(process, alongside: metrics.map { [$0] } ?? [], logger: logger)
    }

    /// The `/metrics` listener of `--metrics-port`, after bootstrapping the metrics backend it reads.
    private func metricsListener(_ configuration: WooqueueConfiguration, port: Int, logger: Logger) throws -> any Service {
        guard (1...65535).contains(port) else { throw ValidationError("--metrics-port must be from 1 to 65535, got \(port)") }
        var admin = configuration.admin
        if let metricsHost { admin.host = metricsHost }
        let access = AdminAccess(settings: admin, metricsToken: configuration.http.metricsToken)
        guard admin.listensOnLoopback || access.hasCredentials || !configuration.http.metricsToken.isEmpty else {
            throw ValidationError("""
                --metrics-host \(admin.host) is not a loopback address, and no credential is set: /metrics would be \
                open to the network. Set http.metricsToken (WOOQUEUE_METRICS_TOKEN) or an admin credential, or keep \
                the host on 127.0.0.1
                """)
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusExport(registry: registry, metrics: ProcessMetric.workers + ProcessMetric.inventory + ProcessMetric.redis))
        let endpoint = MetricsEndpoint(
            metrics: ClusterMetrics(store: try configuration.makeStore(label: "metrics"), queues: configuration.queues, jobTypes: configuration.jobTypes, registry: registry),
            access: access)
        let host = admin.host
        return HTTPListener.application(
            routes: AdminRoutes.metricsOnly(endpoint), host: host, port: port, limits: configuration.http.listenerLimits, logger: logger,
            onListening: { port in logger.notice("Serving /metrics", metadata: ["url": "http://\(host):\(port)/metrics", "port": "\(port)"]) })
    }
}

/// Runs a worker process in a service group that turns SIGTERM and SIGINT into a graceful shutdown; the group ends
/// when the process does (`drain`), with the services `alongside` it (a metrics listener).
enum WorkerProcessRunner {
    static func run(_ process: WorkerProcess, alongside: [any Service] = [], logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: process, successTerminationBehavior: .gracefullyShutdownGroup)] + alongside.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
