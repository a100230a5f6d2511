/// A parsed JSON value that keeps object members in their written order (configuration sections are ordered:
/// queues are listed from highest to lowest priority).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// Parses JSON text.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var index = 0
        let value = try parseValue(bytes, &index, depth: 0)
        skipWhitespace(bytes, &index)
        guard index == bytes.count else { throw JSONScanError(offset: index, reason: "unexpected text after the value") }
        return value
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    // MARK: - Parsing

    private static func skipWhitespace(_ bytes: [UInt8], _ index: inout Int) {
        while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
    }

    /// Finds the end of the value starting at `index` with ``JSONScanner`` and decodes it.
    private static func parseValue(_ bytes: [UInt8], _ index: inout Int, depth: Int) throws -> JSONValue {
        skipWhitespace(bytes, &index)
        guard index < bytes.count else { throw JSONScanError(offset: index, reason: "unexpected end of text") }
        guard depth < 64 else { throw JSONScanError(offset: index, reason: "nested too deeply") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace(bytes, &index)
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace(bytes, &index)
                let keyEnd = try endOfValue(bytes, index)
                guard bytes[index] == UInt8(ascii: "\""), let key = try JSONScanner.string(in: bytes, index..<keyEnd) else {
                    throw JSONScanError(offset: index, reason: "expected a member name")
                }
                index = keyEnd
                skipWhitespace(bytes, &index)
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw JSONScanError(offset: index, reason: "expected ':'") }
                index += 1
                members.append((key, try parseValue(bytes, &index, depth: depth + 1)))
                skipWhitespace(bytes, &index)
                guard index < bytes.count else { throw JSONScanError(offset: index, reason: "unterminated object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "}") else { throw JSONScanError(offset: index, reason: "expected ',' or '}'") }
                index += 1
                return .object(members)
            }
        case UInt8(ascii: "["):
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace(bytes, &index)
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                elements.append(try parseValue(bytes, &index, depth: depth + 1))
                skipWhitespace(bytes, &index)
                guard index < bytes.count else { throw JSONScanError(offset: index, reason: "unterminated array") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "]") else { throw JSONScanError(offset: index, reason: "expected ',' or ']'") }
                index += 1
                return .array(elements)
            }
        default:
            let end = try endOfValue(bytes, index)
            let range = index..<end
            defer { index = end }
            switch bytes[index] {
            case UInt8(ascii: "\""): return .string(try JSONScanner.string(in: bytes, range) ?? "")
            case UInt8(ascii: "t"): return .bool(true)
            case UInt8(ascii: "f"): return .bool(false)
            case UInt8(ascii: "n"): return .null
            default:
                guard let number = Double(String(decoding: bytes[range], as: UTF8.self)) else {
                    throw JSONScanError(offset: index, reason: "invalid number")
                }
                return .number(number)
            }
        }
    }

    private static func endOfValue(_ bytes: [UInt8], _ start: Int) throws -> Int {
        var end = start
        try JSONScanner.skipValue(in: bytes, from: &end)
        return end
    }
}
