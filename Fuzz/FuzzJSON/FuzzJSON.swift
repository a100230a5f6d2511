import FuzzSupport
import Parsing

/// libFuzzer target: the JSON scanner, the value parser and the writer, on any bytes.
///
/// Beyond "never traps", it checks what callers rely on: the scanner and the value parser accept the same
/// documents; member walking and scalar decoding stay inside the text; a compacted document is the same value;
/// a decoded string, written back by ``JSONWriter``, decodes to itself.
@main enum FuzzJSON {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzInput(data, count)
    let valid = (try? JSONScanner.validate(bytes)) != nil
    let value = try? JSONValue.parse(bytes)
    guard valid == (value != nil) else { fatalError("validate says \(valid), parse says \(value != nil)") }
    _ = try? JSONScanner.forEachMember(of: bytes) { _, range in
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else { fatalError("member range \(range) outside the text") }
        _ = try? JSONScanner.string(in: bytes, range)
        _ = try? JSONScanner.integer(in: bytes, range)
    }
    guard let value else { return 0 }
    guard let compacted = try? JSONScanner.compacted(bytes), (try? JSONValue.parse(compacted)) == value else {
        fatalError("the compacted document differs")
    }
    checkStrings(value)
    return 0
}

/// Every string of `value`, written as JSON and read back, is itself.
private func checkStrings(_ value: JSONValue) {
    switch value {
    case .string(let text):
        var written: [UInt8] = []
        JSONWriter.appendString(text, to: &written)
        guard (try? JSONScanner.string(in: written, 0..<written.count)) == text else { fatalError("\(text.debugDescription) does not round-trip") }
    case .array(let elements):
        elements.forEach(checkStrings)
    case .object(let members):
        for member in members {
            checkStrings(.string(member.key))
            checkStrings(member.value)
        }
    default:
        break
    }
}
