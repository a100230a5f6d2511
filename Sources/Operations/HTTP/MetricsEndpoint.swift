public import HTTPServer
import HTTPTypes
public import Hummingbird
import NIOCore

/// `GET /metrics` on the admin listener: the Prometheus text exposition of ``ClusterMetrics``, for a request that
/// ``AdminAccess`` lets in (`http.metricsToken` or an admin credential as a bearer token).
public struct MetricsEndpoint: Sendable {
    public let metrics: ClusterMetrics
    public let access: AdminAccess

    public init(metrics: ClusterMetrics, access: AdminAccess) {
        self.metrics = metrics
        self.access = access
    }

    public func register(on router: some RouterMethods<ServerContext>, path: String = "/metrics") {
        router.get(RouterPath(path)) { request, context -> Response in
            if case .denied(let denial) = access.check(request, context, scope: .metrics) { return AdminAccess.refusal(denial, scope: .metrics) }
            do {
                return Self.text(200, try await metrics.scrape(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            } catch {
                return AdminAccess.text(503, "cannot read the queues from Redis, so no figures are reported: \(error)\n")
            }
        }
    }

    private static func text(_ status: Int, _ body: [UInt8], contentType: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: contentType, .contentTypeOptions: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
