import Foundation
import FuzzSupport
import Parsing

/// libFuzzer target: our JSON scanner against Foundation's `JSONSerialization`, on valid and invalid documents.
///
/// Both must accept and reject the same texts and read the same values, except where the difference is known and
/// chosen, each checked for here rather than assumed:
/// - an escaped surrogate that is not part of a pair: we read U+FFFD, Foundation refuses the document;
/// - a number too large for a double: we read infinity, Foundation refuses it;
/// - Foundation accepts a trailing comma (`[1,]`), a byte-order mark and UTF-16/32 text; we hold to RFC 8259;
/// - nesting: we stop at 64 levels, Foundation at 512.
@main enum FuzzJSONDifferential {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzInput(data, count)
    let ours = try? JSONValue.parse(bytes)
    let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)
    switch (ours, foundation) {
    case (nil, nil):
        break
    case (let value?, nil):
        guard hasUnpairedSurrogateEscape(bytes) || hasInfinity(value) else {
            fatalError("we accept what Foundation refuses: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
    case (nil, _?):
        guard startsWithEncodingMark(bytes) || nestsDeeperThan64(bytes) || acceptedWithoutTrailingCommas(bytes) else {
            fatalError("Foundation accepts what we refuse: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
    case (let value?, let object?):
        guard same(value, object) else {
            fatalError("different values for \(String(decoding: bytes, as: UTF8.self).debugDescription): \(value) and \(object)")
        }
    }
    return 0
}

private func same(_ value: JSONValue, _ object: Any) -> Bool {
    switch value {
    case .null: return object is NSNull
    case .bool(let flag): return (object as? Bool) == flag
    case .string(let text): return (object as? String) == text
    case .number(let number):
        guard let other = (object as? NSNumber)?.doubleValue ?? (object as? Decimal).map({ NSDecimalNumber(decimal: $0).doubleValue }) else {
            return false
        }
        return number == other || abs(number - other) <= abs(number) * 1e-12
    case .array(let elements):
        guard let others = object as? [Any], others.count == elements.count else { return false }
        return zip(elements, others).allSatisfy { same($0, $1) }
    case .object(let members):
        guard let others = object as? [String: Any] else { return false }
        var last: [String: JSONValue] = [:]  // a repeated name: the last value counts, as in Foundation
        for member in members { last[member.key] = member.value }
        return last.count == others.count && last.allSatisfy { key, value in others[key].map { same(value, $0) } ?? false }
    }
}

private func hasInfinity(_ value: JSONValue) -> Bool {
    switch value {
    case .number(let number): return number.isInfinite
    case .array(let elements): return elements.contains(where: hasInfinity)
    case .object(let members): return members.contains { hasInfinity($0.value) }
    default: return false
    }
}

/// `\uD800`–`\uDFFF` anywhere (the surrogate escapes; whether paired is Foundation's business to refuse).
private func hasUnpairedSurrogateEscape(_ bytes: [UInt8]) -> Bool {
    let text = String(decoding: bytes, as: UTF8.self).lowercased()
    return text.contains("\\ud8") || text.contains("\\ud9") || text.contains("\\uda") || text.contains("\\udb")
        || text.contains("\\udc") || text.contains("\\udd") || text.contains("\\ude") || text.contains("\\udf")
}

private func startsWithEncodingMark(_ bytes: [UInt8]) -> Bool {
    bytes.starts(with: [0xEF, 0xBB, 0xBF]) || bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE])
        || bytes.prefix(4).contains(0)
}

private func nestsDeeperThan64(_ bytes: [UInt8]) -> Bool {
    var depth = 0
    for byte in bytes {
        if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") { depth += 1 }
        if depth > 64 { return true }
    }
    return false
}

/// Whether we accept the text once every comma directly before a closing bracket is removed.
private func acceptedWithoutTrailingCommas(_ bytes: [UInt8]) -> Bool {
    var output: [UInt8] = []
    for byte in bytes {
        if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
            while let last = output.last, [0x20, 0x0A, 0x0D, 0x09].contains(last) { output.removeLast() }
            if output.last == UInt8(ascii: ",") { output.removeLast() }
        }
        output.append(byte)
    }
    return output != bytes && (try? JSONScanner.validate(output)) != nil
}
