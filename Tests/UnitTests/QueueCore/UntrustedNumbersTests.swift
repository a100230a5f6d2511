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
