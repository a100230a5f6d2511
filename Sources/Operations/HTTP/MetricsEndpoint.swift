import Dispatcher
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /metrics`: the Prometheus text exposition of ``ClusterMetrics``, behind an optional bearer token
/// (`http.metricsToken`, `WOOQUEUE_METRICS_TOKEN`).
public struct MetricsEndpoint: Sendable {
    public let metrics: ClusterMetrics
    /// Empty: no token asked for.
    public let token: String

    public init(metrics: ClusterMetrics, token: String) {
        self.metrics = metrics
        self.token = token
    }

    public func register(on router: Router<ServerContext>, path: String = "/metrics") {
        router.get(RouterPath(path)) { request, _ -> Response in
            guard authorized(request.headers[.authorization]) else {
                return Self.text(401, "a bearer token is required: send Authorization: Bearer <http.metricsToken>\n",
                                 extra: [.wwwAuthenticate: #"Bearer realm="wooqueue metrics""#])
            }
            do {
                return Self.text(200, try await metrics.scrape(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            } catch {
                return Self.text(503, "cannot read the queues from Redis, so no figures are reported: \(error)\n")
            }
        }
    }

    /// True without a configured token, or when `header` carries it (compared in constant time).
    func authorized(_ header: String?) -> Bool {
        if token.isEmpty { return true }
        guard let bearer = Secrets.credentials(header, scheme: "Bearer") else { return false }
        return Secrets.matches(bearer.utf8, token.utf8)
    }

    private static func text(_ status: Int, _ body: String, extra: HTTPFields = [:]) -> Response {
        text(status, Array(body.utf8), contentType: "text/plain; charset=utf-8", extra: extra)
    }

    private static func text(_ status: Int, _ body: [UInt8], contentType: String, extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
