public import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A real HTTP server on a free loopback port: answers with whatever `respond` says and records each request.
public final class TestHTTPServer: Sendable {
    public struct Received: Sendable {
        public let path: String
        public let headers: [String: String]
        public let body: String
    }

    private final class Log: Sendable {
        let entries = Mutex<[Received]>([])
    }

    public let port: Int
    private let group: ServiceGroup
    private let log: Log

    private init(port: Int, group: ServiceGroup, log: Log) {
        self.port = port
        self.group = group
        self.log = log
    }

    public var requests: [Received] { log.entries.withLock { $0 } }

    public var url: String { "http://127.0.0.1:\(port)/hook" }

    /// Starts the server and returns once it listens. `respond` gets the request's number, from 1; `headers` gives
    /// the answer's headers (a `Location`, say).
    public static func start(headers answerHeaders: @escaping @Sendable (_ requestNumber: Int) -> HTTPFields = { _ in [:] },
                             _ respond: @escaping @Sendable (_ requestNumber: Int) -> (HTTPResponse.Status, String)) async throws -> TestHTTPServer {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let log = Log()
        let router = Router()
        router.post("**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let number = log.entries.withLock { entries -> Int in
                entries.append(Received(path: request.uri.path, headers: headers, body: String(buffer: body)))
                return entries.count
            }
            let (status, text) = respond(number)
            return Response(status: status, headers: answerHeaders(number), body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) })
        var logger = Logger(label: "test.http")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        return TestHTTPServer(port: port, group: group, log: log)
    }

    public func stop() {
        Task { await group.triggerGracefulShutdown() }
    }
}
