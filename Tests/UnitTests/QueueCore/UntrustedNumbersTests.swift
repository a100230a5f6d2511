import AppConfiguration
import Parsing
import QueueCore
import Testing

/// Numbers from outside (Redis, config.json) never reach a trapping conversion.
@Suite struct UntrustedNumbersTests {
    /// A process record is read from Redis, which anyone with access may write: `Int64(Double)` trapped on
    /// these values in every `status` and every dashboard refresh.
    @Test func aProcessRecordWithNumbersThatDoNotFitReadsWithoutTrapping() throws {
        for value in ["1e19", "-1e19", "1e999", "1.5", "9223372036854775807"] {
            let record = try WorkerProcessRecord(decoding: Array(
                #"{"id":"p","host":"h","pid":\#(value),"queues":["low","high"],"workers":[\#(value),2],"started_at":\#(value),"heartbeat_at":5}"#.utf8))
            #expect(record.heartbeatAt == 5)
            #expect(record.workers.last == 2, "\(value)")
            #expect(record.holders(of: "high").count == 2)
        }
    }

    /// Records written before the registry used Codable (by a process still running the older build during a
    /// rolling upgrade) read the same, and a record's stored form keeps the snake_case member names.
    @Test func aProcessRecordReadsTheStoredFormOfEveryVersion() throws {
        let older = Array(#"{"id":"host-1-a","host":"web1","pid":42,"queues":["high","bulk"],"workers":[3,1],"started_at":1000,"heartbeat_at":2000}"#.utf8)
        let expected = WorkerProcessRecord(id: "host-1-a", host: "web1", pid: 42, queues: ["high", "bulk"], workers: [3, 1],
                                           startedAt: 1000, heartbeatAt: 2000)
        #expect(try WorkerProcessRecord(decoding: older) == expected)
        #expect(try WorkerProcessRecord(decoding: expected.encoded()) == expected)
        guard case .object(let members) = try JSONValue.parse(expected.encoded()) else {
            Issue.record("a record is not stored as a JSON object")
            return
        }
        #expect(Set(members.map(\.key)) == ["id", "host", "pid", "queues", "workers", "started_at", "heartbeat_at"])
        #expect(throws: (any Error).self) { _ = try WorkerProcessRecord(decoding: Array("[1]".utf8)) }
    }

    @Test func aDurationTooLongForAMillisecondCountIsAClearError() {
        for duration in [#""1e300s""#, "1e300", #""99999999999999d""#, #""-5s""#] {
            let error = #expect(throws: (any Error).self) {
                _ = try WooqueueConfiguration.decode(try JSONValue.parse(Array(#"{"workers": {"heartbeatInterval": \#(duration)}}"#.utf8)), environment: [:])
            }
            #expect("\(error.map { "\($0)" } ?? "")".contains("workers.heartbeatInterval"), "\(duration): \(error.map { "\($0)" } ?? "accepted")")
        }
        #expect(DurationText.parse("1e300s") == nil)
        #expect(DurationText.parse("1.5s") == .milliseconds(1500))
    }
}
