import QueueCore
import Testing

@Suite struct JobEnvelopeTests {
    @Test func encodesIdFirstAndPayloadLastAndRoundTrips() throws {
        var envelope = JobEnvelope(id: "abc123", type: "sync_erp", queue: "medium", payload: Array(#"{"b": [1, 2.50, "x\"y"], "a":{}}"#.utf8),
                                   maxAttempts: 6, enqueuedAt: 1_763_884_800_123, runAt: 1_763_884_860_000, key: "order-727", source: "cli")
        envelope.attempt = 2
        envelope.recoveries = 3
        envelope.lastError = "HTTP 503: \"busy\"\nretry later"
        let bytes = envelope.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"id":"abc123","#))
        #expect(text.hasSuffix(#","payload":{"b": [1, 2.50, "x\"y"], "a":{}}}"#), "the payload is kept byte for byte")
        #expect(text.contains(#","recoveries":3,"#), "the recover script raises a plain integer in place")
        #expect(JobEnvelope.id(of: bytes) == "abc123")
        #expect(try JobEnvelope(decoding: bytes) == envelope)
    }

    @Test func keepsUnknownMembersVerbatim() throws {
        let input = #"{"id":"x1","type":"noop","queue":"low","attempt":0,"max_attempts":1,"recoveries":0,"enqueued_at":5,"trace":{"span":"0af7"},"payload":{}}"#
        let envelope = try JobEnvelope(decoding: Array(input.utf8))
        #expect(envelope.unknownMembers == [.init(key: "trace", rawValue: Array(#"{"span":"0af7"}"#.utf8))])
        #expect(String(decoding: envelope.encoded(), as: UTF8.self) == input)
    }

    @Test func rejectsWhatIsNotAnEnvelopeWithAReason() {
        let cases: [(String, String)] = [
            ("not json", "not valid JSON"),
            (#"{"type":"noop","queue":"low","payload":{}}"#, "no id"),
            (#"{"id":"a","queue":"low","payload":{}}"#, "no type"),
            (#"{"id":"a","type":"noop","queue":"low","payload":[1]}"#, "payload must be a JSON object"),
            (#"{"id":"a","type":"noop","queue":"low","attempt":"two","payload":{}}"#, "expected an integer"),
        ]
        for (input, reason) in cases {
            let error = #expect(throws: EnvelopeError.self) { try JobEnvelope(decoding: Array(input.utf8)) }
            #expect(error?.description.contains(reason) == true, "\(input) → \(String(describing: error))")
        }
    }

    @Test func decodesEscapesAndUnicode() throws {
        let input = #"{"id":"a","type":"t","queue":"q","key":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/","payload":{}}"#
        #expect(try JobEnvelope(decoding: Array(input.utf8)).key == "café 😀 \"q\" \\ /")
    }

    @Test func jobIDsAreUniqueOrderedAndSafe() {
        let ids = (0..<10_000).map { _ in JobID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy(JobID.isValid))
        #expect(JobID.make(now: 1_000) < JobID.make(now: 2_000_000_000_000))
        #expect(!JobID.isValid("has space") && !JobID.isValid("quo\"te") && !JobID.isValid(""))
    }
}
