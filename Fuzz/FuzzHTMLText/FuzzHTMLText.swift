import FuzzSupport
import Parsing

/// libFuzzer target: HTML descriptions to plain text. Never traps, runs in linear time (libFuzzer's `-timeout`
/// catches a slow input), and its text has no white space at either end and no run of two spaces.
@main enum FuzzHTMLText {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = HTMLText.plain(String(decoding: fuzzInput(data, count), as: UTF8.self))
    guard !text.hasPrefix(" "), !text.hasSuffix(" "), !text.contains("  ") else { fatalError("white space left in \(text.debugDescription)") }
    return 0
}
