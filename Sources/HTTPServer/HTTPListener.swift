public import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore

/// A wooqueue HTTP listener: Hummingbird over HTTP/1.1 with bounds on what a connection may cost, whatever routes
/// it serves. The webhook listener and the admin listener (`/admin`, `/metrics`) are two of them.
public enum HTTPListener {
    /// What a connection may cost before any route runs.
    public struct Limits: Sendable {
        /// A connection with no request in progress, or whose request head is still arriving, is closed after this.
        public var idleTimeout: Duration
        /// A request's body must arrive within this after its head.
        public var readTimeout: Duration
        /// Connections served at once; more wait in the listen backlog.
        public var maxConnections: Int

        public init(idleTimeout: Duration, readTimeout: Duration, maxConnections: Int) {
            self.idleTimeout = idleTimeout
            self.readTimeout = readTimeout
            self.maxConnections = maxConnections
        }
    }

    /// Builds the listener for `routes` on `host`:`port`; run it as a service. `onListening` gets the bound port
    /// (useful with port 0).
    public static func application(
        routes: RouteCollection<ServerContext>, host: String, port: Int, limits: Limits, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: ServerContext.self)
        router.addRoutes(routes)
        return Application(
            router: router,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [RequestDeadlineHandler(timeout: TimeAmount(limits.readTimeout))],
                idleTimeout: TimeAmount(limits.idleTimeout))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "wooqueue",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
