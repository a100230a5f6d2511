import AppConfiguration
import Dispatcher
import HTTPServer
import Hummingbird
import Logging
import Operations
import QueueCore

/// The two HTTP listeners of `serve`, built from the routes Dispatcher and Operations give: the webhook listener
/// on `http.host`:`http.port` (the webhook path, `/healthz`, `/readyz`) and the admin listener on
/// `admin.host`:`admin.port` (`/admin`, `/metrics`). Both have the `http.*` connection limits.
///
/// - Parameters:
///   - onWebhooksListening / onAdminListening: called with each listener's bound port (useful with port 0).
func buildApplication(
    configuration: WooqueueConfiguration, intake: WebhookIntake, readiness: QueueStore,
    dashboard: AdminDashboard, metrics: MetricsEndpoint, logger: Logger,
    onWebhooksListening: @escaping @Sendable (Int) async -> Void = { _ in },
    onAdminListening: @escaping @Sendable (Int) async -> Void = { _ in }
) -> (webhooks: some ApplicationProtocol, admin: some ApplicationProtocol) {
    let limits = configuration.http.listenerLimits
    let webhooks = HTTPListener.application(
        routes: WebhookRoutes.collection(http: configuration.http, intake: intake, readiness: readiness, logger: logger),
        host: configuration.http.host, port: configuration.http.port, limits: limits, logger: logger, onListening: onWebhooksListening)
    let admin = HTTPListener.application(
        routes: AdminRoutes.collection(dashboard: dashboard, metrics: metrics),
        host: configuration.admin.host, port: configuration.admin.port, limits: limits, logger: logger, onListening: onAdminListening)
    return (webhooks, admin)
}
