public import AppConfiguration
public import CoreMetrics
public import Dispatcher
import Foundation
import HTTPServer
public import Logging
public import QueueCore
public import ServiceLifecycle

/// The webhook intake over HTTP on a free loopback port, as `serve` runs it (the listener, the routes, the intake
/// service), for the tests of the intake and of the store's webhooks.
public struct IntakeServer: Sendable {
    public let configuration: WooqueueConfiguration
    public let intake: WebhookIntake
    public let port: Int
    let group: ServiceGroup

    /// Starts it with `configuration` (its `http.port` should be 0) on `store`'s Redis; returns once it listens.
    public static func start(configuration: WooqueueConfiguration, store: QueueStore, metrics: any MetricsFactory = MetricsSystem.factory,
                             logger: Logger) async throws -> IntakeServer {
        let intake = try WebhookIntake(configuration: configuration, store: store.withNewConnection(label: "intake"), metrics: metrics, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = HTTPListener.application(
            routes: WebhookRoutes.collection(http: configuration.http, intake: intake, readiness: store, logger: logger),
            host: configuration.http.host, port: configuration.http.port, limits: configuration.http.listenerLimits, logger: logger) {
            continuation.yield($0)
        }
        let group = ServiceGroup(configuration: .init(services: [intake, app], logger: logger))
        Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        return IntakeServer(configuration: configuration, intake: intake, port: await iterator.next() ?? 0, group: group)
    }

    /// The delivery URL: `http://127.0.0.1:<port>/webhooks/woocommerce`.
    public var url: String { "http://127.0.0.1:\(port)\(configuration.http.webhookPath)" }

    public func stop() async {
        await group.triggerGracefulShutdown()
    }
}
