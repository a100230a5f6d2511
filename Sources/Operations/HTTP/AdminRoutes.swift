public import HTTPServer
public import Hummingbird

/// The routes of the admin listener: `/admin` (the dashboard) and `/metrics`, both behind ``AdminAccess``. It
/// listens apart from the webhook listener (`admin.host`:`admin.port`, loopback by default), so a proxy that
/// forwards the webhook port never reaches them.
public enum AdminRoutes {
    public static func collection(dashboard: AdminDashboard, metrics: MetricsEndpoint) -> RouteCollection<ServerContext> {
        let routes = RouteCollection(context: ServerContext.self)
        metrics.register(on: routes)
        dashboard.register(on: routes)
        return routes
    }

    /// `/metrics` alone, for `work --metrics-port`: a worker host scraped like a `serve` host, with no dashboard.
    public static func metricsOnly(_ metrics: MetricsEndpoint) -> RouteCollection<ServerContext> {
        let routes = RouteCollection(context: ServerContext.self)
        metrics.register(on: routes)
        return routes
    }
}
