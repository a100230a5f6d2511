import FuzzSupport
import Parsing

/// libFuzzer target: `redis-sentinel://` URLs, the one Redis address form wooqueue parses by hand. Reading never
/// traps; a URL that reads, redacted, reads back the same with its passwords as `***`, and an error holds no password.
@main enum FuzzSentinelURL {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, count), as: UTF8.self)
    let url: SentinelURL
    do {
        url = try SentinelURL(text)
    } catch {
        _ = SentinelURL.redact(text)
        return 0
    }
    guard let again = try? SentinelURL(SentinelURL.redact(text)) else { fatalError("the redaction of \(text) does not read back") }
    var expected = url
    if expected.password != nil { expected.password = "***" }
    if expected.sentinelPassword != nil { expected.sentinelPassword = "***" }
    guard again == expected else { fatalError("\(text) redacted reads back as \(again), not \(expected)") }
    return 0
}
