import FuzzSupport
import Parsing

/// libFuzzer target: the delivery spool's records, as a damaged disk or a hand-edited file may hold them.
/// Framing and reading never trap, frames stay inside the file, and a record read back encodes to the same frame.
@main enum FuzzSpoolRecord {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzInput(data, count)
    let frames = SpoolRecord.frames(in: bytes)
    guard frames.end <= bytes.count else { fatalError("frames end past the file") }
    for body in frames.bodies {
        guard body.lowerBound >= 4, body.upperBound <= frames.end else { fatalError("frame \(body) outside the file") }
        guard let record = try? SpoolRecord(decoding: bytes, body: body) else { continue }
        var encoded: [UInt8] = []
        record.encode(into: &encoded)
        guard encoded == Array(bytes[(body.lowerBound - 4)..<body.upperBound]) else { fatalError("record \(body) does not encode back") }
    }
    return 0
}
