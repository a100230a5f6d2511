import Foundation
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
        let request: Request
        do {
            request = try JSONDecoder().decode(Request.self, from: Data(payload))
        } catch let failure as JobFailure {
            throw failure
        } catch {
            throw JobFailure.permanent("noop payload must be a JSON object")
        }
        let (sleepMillis, failure) = (request.sleepMillis, request.failure)
        if sleepMillis > 0 { try await Task.sleep(for: .milliseconds(sleepMillis)) }
        if let failure { throw JobFailure(failure, "noop asked to fail (\(failure == .permanent ? "permanent" : "transient"))") }
    }

    /// What a payload asks for. A member of the wrong kind fails the job permanently, naming the member.
    private struct Request: Decodable {
        var sleepMillis: Int64 = 0
        var failure: JobFailure.Kind?

        enum CodingKeys: String, CodingKey {
            case sleepMillis = "sleep_ms"
            case fail
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if container.contains(.sleepMillis) {
                // A number that is not whole or does not fit fails to decode as Int64, and never traps.
                guard let whole = try? container.decode(Int64.self, forKey: .sleepMillis), (0...longestSleepMillis).contains(whole) else {
                    throw JobFailure.permanent("noop payload: sleep_ms must be a whole number from 0 to \(longestSleepMillis)")
                }
                sleepMillis = whole
            }
            if container.contains(.fail) {
                switch try? container.decode(String.self, forKey: .fail) {
                case "transient": failure = .transient
                case "permanent": failure = .permanent
                default: throw JobFailure.permanent("noop payload: fail must be \"transient\" or \"permanent\"")
                }
            }
        }
    }
}
