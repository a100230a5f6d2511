import AppConfiguration
import Parsing
import QueueCore
import Testing

/// The flow-control settings of a job type: read strictly, every bad value refused with the field named.
@Suite struct FlowLimitsTests {
    func decode(_ type: String) throws -> FlowLimits {
        let json = #"{"jobTypes": {"erp": {"queue": "medium", "handler": "http", "url": "http://127.0.0.1:9/x", \#(type)}}}"#
        return try WooqueueConfiguration.decode(try JSONValue.parse(Array(json.utf8)), environment: [:]).jobTypes["erp"]!.flow
    }

    func error(_ type: String) -> String {
        do {
            _ = try decode(type)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func limitsAreReadAsWritten() throws {
        let flow = try decode(#""concurrency": 4, "rateLimit": "600/m", "burst": 10, "breaker": {"failures": 3, "coolDown": "45s"}"#)
        #expect(flow.concurrency == 4)
        #expect(flow.rate == FlowLimits.Rate(count: 600, period: .seconds(60), burst: 10))
        #expect(flow.rate?.intervalMillis == 100)
        #expect(flow.breaker == FlowLimits.Breaker(failures: 3, coolDown: .seconds(45)))
        #expect(flow.concurrencyKey == nil && !flow.isEmpty)
        let keyed = try decode(#""concurrency": 2, "concurrencyKey": "payload.store_id", "rateLimit": "3/s", "rateLimitKey": "key""#)
        #expect(keyed.concurrencyKey == .payloadMember("store_id") && keyed.rateLimitKey == .envelopeKey)
        #expect(keyed.rate?.burst == 1, "a burst of one by default")
        #expect(try decode(#""timeout": "5s""#).isEmpty, "no limit: nothing to ask")
    }

    @Test func badLimitsAreRefusedWithTheField() {
        #expect(error(#""concurrency": 0"#).contains("jobTypes.erp.concurrency must be ≥ 1"))
        #expect(error(#""concurrency": 1.5"#).contains("jobTypes.erp.concurrency must be a whole number"))
        for text in ["10", "10/d", "0/s", "-1/s", "1.5/s", "/s", "10/s/s", "ten/s", "1000001/s", " 10/s"] {
            #expect(error(#""rateLimit": "\#(text)""#).contains("jobTypes.erp.rateLimit must be calls per second, minute or hour"), "\(text)")
        }
        #expect(error(#""burst": 5"#).contains("jobTypes.erp.burst needs jobTypes.erp.rateLimit"))
        #expect(error(#""rateLimit": "5/s", "burst": 0"#).contains("jobTypes.erp.burst must be ≥ 1"))
        #expect(error(#""concurrencyKey": "key""#).contains("concurrencyKey needs jobTypes.erp.concurrency"))
        #expect(error(#""rateLimitKey": "key""#).contains("rateLimitKey needs jobTypes.erp.rateLimit"))
        #expect(error(#""concurrency": 2, "concurrencyKey": "store""#).contains(#"must be "key" (the job's key) or "payload.<member>""#))
        #expect(error(#""breaker": {"failures": 0}"#).contains("jobTypes.erp.breaker.failures must be ≥ 1"))
        #expect(error(#""breaker": {"coolDown": "10ms"}"#).contains("jobTypes.erp.breaker.coolDown must be at least 100ms"))
        #expect(error(#""breaker": {"tries": 3}"#).contains("jobTypes.erp.breaker.tries is not a known setting"))
    }

    @Test func aKeyIsReadFromTheJobOrItsPayloadWithoutTrapping() {
        let job = JobEnvelope(type: "erp", queue: "medium", payload: Array(#"{"store_id": 7, "name": "shop-a", "tags": [1]}"#.utf8), maxAttempts: 1, key: "order-1")
        #expect(FlowKeySource.envelopeKey.value(of: job) == "order-1")
        #expect(FlowKeySource.payloadMember("store_id").value(of: job) == "7")
        #expect(FlowKeySource.payloadMember("name").value(of: job) == "shop-a")
        #expect(FlowKeySource.payloadMember("tags").value(of: job) == "", "not a string or number: no key")
        #expect(FlowKeySource.payloadMember("missing").value(of: job) == "")
        let long = JobEnvelope(type: "erp", queue: "medium", payload: Array(#"{"name": "\#(String(repeating: "x", count: 500))"}"#.utf8), maxAttempts: 1)
        #expect(FlowKeySource.payloadMember("name").value(of: long).utf8.count == 128, "bounded")
        let broken = JobEnvelope(type: "erp", queue: "medium", payload: Array(#"{"name": "#.utf8), maxAttempts: 1)
        #expect(FlowKeySource.payloadMember("name").value(of: broken) == "")
        let gate = FlowGate(type: "erp", limits: FlowLimits(concurrency: 2, concurrencyKey: .payloadMember("store_id")), envelope: job)
        #expect(gate.concurrencyGate == "erp|7" && gate.rateGate == nil)
    }

    @Test func theJitterGuardIsFiveMillisecondsOrATenthOfAnInterval() {
        #expect(FlowLimits.Rate(count: 20, period: .seconds(1)).jitterGuardMillis == 5)
        #expect(FlowLimits.Rate(count: 1000, period: .seconds(1)).jitterGuardMillis == 0.1)
    }
}
