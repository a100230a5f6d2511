import FuzzSupport
import Parsing

/// libFuzzer target: WordPress's `wp_specialchars_decode` of a webhook secret. Never traps; decoding only ever
/// shortens the text, and text without `&` is left as it is.
@main enum FuzzWordPressEntities {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, count), as: UTF8.self)
    let decoded = WordPressEntities.specialcharsDecode(text)
    guard decoded.utf8.count <= text.utf8.count else { fatalError("decoding grew \(text.debugDescription)") }
    guard text.contains("&") || decoded == text else { fatalError("text without & changed: \(text.debugDescription)") }
    return 0
}
