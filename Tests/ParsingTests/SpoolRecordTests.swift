import Parsing
import Testing

/// The spool's record codec: what the intake writes reads back, and damage is an error, never a trap.
@Suite struct SpoolRecordTests {
    let record = SpoolRecord(claimKey: Array("body:ab".utf8), claimToken: Array("token".utf8),
                             jobs: [Array(#"{"id":"1"}"#.utf8), []], deadLetter: nil)

    @Test func recordsReadBackFromTheirFrames() throws {
        var file: [UInt8] = []
        record.encode(into: &file)
        SpoolRecord(claimKey: nil, claimToken: nil, jobs: [], deadLetter: Array("{}".utf8)).encode(into: &file)
        let frames = SpoolRecord.frames(in: file)
        #expect(frames.end == file.count && frames.bodies.count == 2)
        #expect(try SpoolRecord(decoding: file, body: frames.bodies[0]) == record)
        #expect(try SpoolRecord(decoding: file, body: frames.bodies[1]).deadLetter == Array("{}".utf8))
    }

    @Test func damageIsAnErrorNamingWhatIsWrong() throws {
        var file: [UInt8] = []
        record.encode(into: &file)
        let body = SpoolRecord.frames(in: file).bodies[0]
        // A job count the record cannot hold: refused before any loop over it.
        var counted = file
        counted[body.lowerBound + 4 + 7 + 4 + 5 + 3] = 0xFF
        #expect(throws: SpoolRecordError.self) { try SpoolRecord(decoding: counted, body: body) }
        // A field longer than its record.
        var long = file
        long[body.lowerBound] = 0x7F
        let error = #expect(throws: SpoolRecordError.self) { try SpoolRecord(decoding: long, body: body) }
        #expect(error?.reason.contains("claim key") == true)
        // Bytes after the dead letter.
        #expect(throws: SpoolRecordError.self) { try SpoolRecord(decoding: file + [1, 2], body: body.lowerBound..<(body.upperBound + 2)) }
        #expect(throws: SpoolRecordError.self) { try SpoolRecord(decoding: file, body: 0..<(file.count + 1)) }
    }

    @Test func aFrameCutShortEndsTheWholeFrames() {
        var file: [UInt8] = []
        record.encode(into: &file)
        let whole = file.count
        file += [0, 0, 1, 0, 42]
        #expect(SpoolRecord.frames(in: file).end == whole)
        #expect(SpoolRecord.frames(in: [0, 0]).end == 0)
        #expect(SpoolRecord.frames(in: [0xFF, 0xFF, 0xFF, 0xFF]).bodies.isEmpty)
    }
}
