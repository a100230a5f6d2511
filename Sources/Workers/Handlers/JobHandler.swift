import Foundation
public import Logging
public import QueueCore

/// Runs jobs of one type. Delivery is at-least-once, so handlers must be idempotent.
///
/// Throw ``JobFailure`` to say how a failure should be treated; any other error counts as transient and is
/// retried with backoff. Handlers should honour task cancellation: a job over its timeout is cancelled.
public protocol JobHandler: Sendable {
    func handle(_ job: JobContext) async throws
}

/// What a handler gets: the job and a logger tagged with it.
public struct JobContext: Sendable {
    public let envelope: JobEnvelope
    /// What the batch handler made of the job ahead of its call (``BatchJobHandler/readAhead(_:)``), when the worker
    /// took it while its previous call ran; `nil` otherwise.
    public let readAhead: (any Sendable)?
    private let workerLogger: Logger

    /// `logger`: the worker's; the context adds the job's id and type to it.
    public init(envelope: JobEnvelope, logger: Logger, readAhead: (any Sendable)? = nil) {
        self.envelope = envelope
        self.readAhead = readAhead
        self.workerLogger = logger
    }

    /// The worker's logger with `job.id` and `job.type` metadata. Built when asked for: most jobs never log, and
    /// setting metadata copies the logger's storage (measurable at thousands of jobs per second).
    public var logger: Logger {
        var logger = workerLogger
        logger[metadataKey: "job.id"] = .string(envelope.id)
        logger[metadataKey: "job.type"] = .string(envelope.type)
        return logger
    }

    /// Decodes the payload; a payload of the wrong shape is a permanent failure (retrying cannot fix it).
    public func payload<T: Decodable>(as type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(envelope.payload))
        } catch let error as DecodingError {
            throw JobFailure.permanent("payload does not decode as \(envelope.type) input: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let joined = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return joined.isEmpty ? "" : " at \(joined)"
        }
        switch error {
        case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context): return "missing \(type) value\(path(context))"
        case .keyNotFound(let key, let context): return "missing field \"\(key.stringValue)\"\(path(context))"
        case .dataCorrupted(let context): return context.debugDescription + path(context)
        @unknown default: return "\(error)"
        }
    }
}

/// A failure with its class (DESIGN.md, failure classes).
public struct JobFailure: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Retrying cannot help: dead-letter at once.
        case permanent
        /// May succeed later: retry with backoff until the attempts run out.
        case transient
        /// A dependency (database, Redis) is away: wait and retry without counting an attempt.
        case dependencyUnavailable
        /// The called system asked to wait (`429`/`503` with `Retry-After`): the whole job type waits
        /// ``JobFailure/retryAfter`` (capped by `workers.maxRetryAfter`), and the job runs again without counting
        /// an attempt.
        case backPressure
    }

    public let kind: Kind
    public let message: String
    /// For ``Kind/backPressure``: how long the called system asked to wait.
    public let retryAfter: Duration?

    public init(_ kind: Kind, _ message: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.message = message
        self.retryAfter = retryAfter
    }

    public static func permanent(_ message: String) -> JobFailure { JobFailure(.permanent, message) }
    public static func transient(_ message: String) -> JobFailure { JobFailure(.transient, message) }
    public static func dependencyUnavailable(_ message: String) -> JobFailure { JobFailure(.dependencyUnavailable, message) }
    public static func backPressure(_ message: String, retryAfter: Duration) -> JobFailure { JobFailure(.backPressure, message, retryAfter: retryAfter) }

    public var description: String { message }
}

/// Runs several jobs in one call, e.g. one database statement for a batch of inventory upserts.
///
/// A worker hands it the consecutive jobs of a fetch whose types map to this same handler, up to
/// ``batchLimit``, in queue order. It returns one result per job, in the same order, so one bad job does not sink
/// the others. Throwing fails the whole batch: a dependency outage postpones every job without counting an attempt;
/// any other error counts as a failed attempt for each.
public protocol BatchJobHandler: JobHandler, AnyObject {
    /// Most jobs handed over at once.
    var batchLimit: Int { get }
    func handle(batch: [JobContext]) async throws -> [JobResult]
    /// Work on a job that needs no I/O and no order, such as parsing its payload, done while the worker's previous
    /// call still runs (so at the same time as ``handle(batch:)``, of this worker or of another); what it returns
    /// reaches ``handle(batch:)`` as ``JobContext/readAhead``. A handler must also handle jobs that were not read
    /// ahead. The default reads nothing.
    func readAhead(_ job: JobContext) -> (any Sendable)?
}

extension BatchJobHandler {
    public func readAhead(_ job: JobContext) -> (any Sendable)? { nil }

    /// A single job is a batch of one. Outside a worker there is nowhere to put split-off parts, so a job with
    /// failed parts fails as a whole (running it again is harmless: handlers are idempotent).
    public func handle(_ job: JobContext) async throws {
        switch try await handle(batch: [job]).first ?? .done {
        case .done, .skipped: return
        case .failed(let failure): throw failure
        case .split(let parts):
            let kind: JobFailure.Kind = parts.allSatisfy { $0.failure.kind == .permanent } ? .permanent : .transient
            throw JobFailure(kind, "\(parts.count) part(s) failed: \(parts.map(\.failure.message).joined(separator: "; "))")
        }
    }
}

/// The outcome of one job of a batch.
public enum JobResult: Sendable, Equatable {
    case done
    /// Finished without effect, for a reason worth showing in the event log (no SKU, an older state).
    case skipped(String)
    case failed(JobFailure)
    /// Finished except for some parts of it (products of a catalogue page): each part becomes a job of its own,
    /// of the same type, queue and attempts, that has failed once, so it is retried with backoff or
    /// dead-lettered alone. Written together with the job's own outcome.
    case split([JobPart])
}

/// A part of a job that failed while the rest of it succeeded: see ``JobResult/split(_:)``.
public struct JobPart: Sendable, Equatable {
    /// The part's own payload (one product).
    public var payload: [UInt8]
    /// What the part is about, for events and search (a SKU).
    public var key: String?
    public var failure: JobFailure

    public init(payload: [UInt8], key: String?, failure: JobFailure) {
        self.payload = payload
        self.key = key
        self.failure = failure
    }
}

extension JobFailure: Equatable {
    public static func == (lhs: JobFailure, rhs: JobFailure) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.retryAfter == rhs.retryAfter
    }
}
