public import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The system wooqueue's `http` jobs call, as a test needs it: a real HTTP server on a free loopback port that
/// records, by its own clock, when each request came and when it was answered, how many of a job type were in flight
/// at once, and every start and end in one ordered log. Each answer (status, headers, delay) comes from `respond`.
public final class RecordingReceiver: Sendable {
    /// One request: the job it came for (from wooqueue's `X-Wooqueue-*` headers) and its times, in seconds since
    /// the receiver started.
    public struct Call: Sendable {
        public let type: String
        public let id: String
        public let attempt: String
        /// The request's body: the job's payload.
        public let body: String
        public let started: Double
        public var ended: Double?
        public var status: Int?
    }

    /// A start or an end, in the order the receiver saw them.
    public enum Event: Sendable, Equatable {
        case started(type: String, id: String)
        case ended(type: String, id: String)
    }

    public struct Answer: Sendable {
        public var status: Int
        /// The `Retry-After` header to send, if any.
        public var retryAfter: String?
        /// How long to wait before answering.
        public var delay: Duration

        public init(_ status: Int = 200, retryAfter: String? = nil, delay: Duration = .zero) {
            self.status = status
            self.retryAfter = retryAfter
            self.delay = delay
        }
    }

    private struct Record {
        var calls: [Call] = []
        var events: [Event] = []
        var inFlight: [String: Int] = [:]
        var peak: [String: Int] = [:]
    }

    private final class Log: Sendable {
        let record = Mutex(Record())
    }

    public let port: Int
    private let group: ServiceGroup
    private let log: Log
    private let origin: ContinuousClock.Instant

    private init(port: Int, group: ServiceGroup, log: Log, origin: ContinuousClock.Instant) {
        self.port = port
        self.group = group
        self.log = log
        self.origin = origin
    }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    public var calls: [Call] { log.record.withLock { $0.calls } }
    public var events: [Event] { log.record.withLock { $0.events } }
    /// The most requests of `type` in flight at once.
    public func peak(_ type: String) -> Int { log.record.withLock { $0.peak[type] ?? 0 } }
    public func calls(_ type: String) -> [Call] { calls.filter { $0.type == type } }
    /// Seconds since the receiver started, on its clock.
    public var now: Double { Self.seconds(origin.duration(to: .now)) }

    /// Starts the server; `respond` gets the job type and the number of this type's request, from 1.
    public static func start(_ respond: @escaping @Sendable (_ type: String, _ number: Int) -> Answer) async throws -> RecordingReceiver {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let log = Log()
        let origin = ContinuousClock.now
        let router = Router()
        router.post("**") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let type = headers["x-wooqueue-job-type"] ?? ""
            let id = headers["x-wooqueue-job-id"] ?? ""
            let attempt = headers["x-wooqueue-attempt"] ?? ""
            let (index, number) = log.record.withLock { record -> (Int, Int) in
                record.calls.append(Call(type: type, id: id, attempt: attempt, body: body, started: seconds(origin.duration(to: .now))))
                record.events.append(.started(type: type, id: id))
                record.inFlight[type, default: 0] += 1
                record.peak[type] = max(record.peak[type] ?? 0, record.inFlight[type] ?? 0)
                return (record.calls.count - 1, record.calls.filter { $0.type == type }.count)
            }
            let answer = respond(type, number)
            if answer.delay > .zero { try? await Task.sleep(for: answer.delay) }
            log.record.withLock { record in
                record.calls[index].ended = seconds(origin.duration(to: .now))
                record.calls[index].status = answer.status
                record.events.append(.ended(type: type, id: id))
                record.inFlight[type, default: 1] -= 1
            }
            var answerHeaders: HTTPFields = [:]
            if let retryAfter = answer.retryAfter { answerHeaders[.retryAfter] = retryAfter }
            return Response(status: .init(code: answer.status), headers: answerHeaders, body: .init(byteBuffer: ByteBuffer(string: "")))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) })
        var logger = Logger(label: "test.receiver")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        return RecordingReceiver(port: port, group: group, log: log, origin: origin)
    }

    public func stop() {
        Task { await group.triggerGracefulShutdown() }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
