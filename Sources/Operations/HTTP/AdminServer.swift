import Dispatcher
import Hummingbird
import Logging
import QueueCore

/// The admin listener: `/admin` and `/metrics` on `admin.host`:`admin.port` (loopback by default), apart from the
/// webhook listener, so a proxy that forwards the webhook port never reaches them. Both pass ``AdminAccess``.
public enum AdminServer {
    /// Builds the listener; run it as a service. `onListening` gets the bound port (useful with port 0).
    public static func application(
        configuration: WooqueueConfiguration, dashboard: AdminDashboard, metrics: MetricsEndpoint, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: ServerContext.self)
        metrics.register(on: router)
        dashboard.register(on: router)
        return WebhookServer.listener(router: router, host: configuration.admin.host, port: configuration.admin.port,
                                      limits: configuration.http, logger: logger, onListening: onListening)
    }
}
