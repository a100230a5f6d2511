import Parsing
import QueueCore

/// Does nothing, for load and failure tests.
///
/// Optional payload: `{"sleep_ms": n}` waits n ms (cancellable); `{"fail": "transient"}` or `"permanent"` fails
/// that way after the wait.
public struct NoopHandler: JobHandler {
    /// A day: longer sleeps are refused (a job's timeout ends it sooner anyway).
    static let longestSleepMillis: Int64 = 86_400_000

    public init() {}

    public func handle(_ job: JobContext) async throws {
        let payload = job.envelope.payload
        if payload.count <= 2 { return }  // "{}": the common case in benchmarks
        guard case .object(let members) = try? JSONValue.parse(payload) else {
            throw JobFailure.permanent("noop payload must be a JSON object")
        }
        var sleepMillis: Int64 = 0
        var failure: JobFailure.Kind?
        for (key, value) in members {
            switch (key, value) {
            case ("sleep_ms", .number(let ms)):
                guard let whole = Int64(exactly: ms), (0...Self.longestSleepMillis).contains(whole) else {
                    throw JobFailure.permanent("noop payload: sleep_ms must be a whole number from 0 to \(Self.longestSleepMillis), got \(ms)")
                }
                sleepMillis = whole
            case ("sleep_ms", _):
                throw JobFailure.permanent("noop payload: sleep_ms must be a whole number ≥ 0, got \(value.kindName)")
            case ("fail", .string("transient")):
                failure = .transient
            case ("fail", .string("permanent")):
                failure = .permanent
            case ("fail", _):
                throw JobFailure.permanent("noop payload: fail must be \"transient\" or \"permanent\"")
            default:
                break
            }
        }
        if sleepMillis > 0 { try await Task.sleep(for: .milliseconds(sleepMillis)) }
        if let failure { throw JobFailure(failure, "noop asked to fail (\(failure == .permanent ? "permanent" : "transient"))") }
    }
}
