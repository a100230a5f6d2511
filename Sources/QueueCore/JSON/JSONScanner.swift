/// A strict, allocation-light reader for JSON text.
///
/// It reads one top-level object's members, decoding the scalar values the caller asks for and handing back the
/// exact bytes of the rest, so envelopes keep payloads and unknown fields byte for byte.
public struct JSONScanner {
    private let bytes: [UInt8]
    private var index: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
    }

    /// Calls `member` for each member of the top-level object, in order, with the value's byte range.
    public static func forEachMember(
        of bytes: [UInt8], _ member: (_ key: String, _ value: Range<Int>) throws -> Void
    ) throws {
        try walkMembers(of: bytes, in: nil) { key, value in
            guard let name = try string(in: bytes, key) else { return }
            try member(name, value)
        }
    }

    /// Calls `member` for the members of the object at `range` (default: the whole text) whose names are among
    /// `names`, with the name's position in `names` and the value's byte range. Names are compared as raw bytes
    /// (they must be written without escapes) and no string is made for the others: the cheap way to read a few
    /// members of a large object, such as a WooCommerce product.
    public static func forEachMember(
        of bytes: [UInt8], in range: Range<Int>? = nil, named names: [[UInt8]],
        _ member: (_ name: Int, _ value: Range<Int>) throws -> Void
    ) throws {
        try walkMembers(of: bytes, in: range) { key, value in
            let raw = bytes[(key.lowerBound + 1)..<(key.upperBound - 1)]  // inside the quotes
            if let position = names.firstIndex(where: { $0.count == raw.count && raw.elementsEqual($0) }) {
                try member(position, value)
            }
        }
    }

    /// The members of the object at `range`, as the byte ranges of each quoted name and its value. Without a
    /// range the object must be the whole text.
    private static func walkMembers(
        of bytes: [UInt8], in range: Range<Int>?, _ member: (_ key: Range<Int>, _ value: Range<Int>) throws -> Void
    ) throws {
        var scanner = JSONScanner(bytes)
        scanner.index = range?.lowerBound ?? 0
        scanner.skipWhitespace()
        try scanner.expect(UInt8(ascii: "{"))
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                scanner.skipWhitespace()
                let keyStart = scanner.index
                try scanner.skipString()
                let key = keyStart..<scanner.index
                scanner.skipWhitespace()
                try scanner.expect(UInt8(ascii: ":"))
                scanner.skipWhitespace()
                let start = scanner.index
                try scanner.skipValue(depth: 0)
                try member(key, start..<scanner.index)
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: ",") { scanner.index += 1; continue }
                try scanner.expect(UInt8(ascii: "}"))
                break
            }
        }
        scanner.skipWhitespace()
        if range == nil, scanner.index != bytes.count { throw scanner.failure("unexpected text after the object") }
    }

    /// Calls `element` with the byte range of each element of the array at `range`, until it returns false.
    public static func forEachElement(of bytes: [UInt8], in range: Range<Int>, _ element: (Range<Int>) throws -> Bool) throws {
        var scanner = JSONScanner(bytes)
        scanner.index = range.lowerBound
        scanner.skipWhitespace()
        try scanner.expect(UInt8(ascii: "["))
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "]") { return }
        while true {
            scanner.skipWhitespace()
            let start = scanner.index
            try scanner.skipValue(depth: 0)
            guard try element(start..<scanner.index) else { return }
            scanner.skipWhitespace()
            if scanner.peek() == UInt8(ascii: ",") { scanner.index += 1; continue }
            try scanner.expect(UInt8(ascii: "]"))
            return
        }
    }

    /// Checks that `bytes` hold exactly one valid JSON value.
    public static func validate(_ bytes: some Collection<UInt8>) throws {
        var scanner = JSONScanner(Array(bytes))
        scanner.skipWhitespace()
        try scanner.skipValue(depth: 0)
        scanner.skipWhitespace()
        if scanner.index != scanner.bytes.count { throw scanner.failure("unexpected text after the value") }
    }

    /// Moves `index` past the scalar, object or array that starts there.
    public static func skipValue(in bytes: [UInt8], from index: inout Int) throws {
        var scanner = JSONScanner(bytes)
        scanner.index = index
        try scanner.skipValue(depth: 0)
        index = scanner.index
    }

    /// Decodes a JSON string, or `nil` for `null`.
    public static func string(in bytes: [UInt8], _ range: Range<Int>) throws -> String? {
        var scanner = JSONScanner(bytes)
        scanner.index = range.lowerBound
        if scanner.peek() == UInt8(ascii: "n") { try scanner.skipLiteral("null"); return nil }
        return try scanner.readString()
    }

    /// Decodes a JSON integer, or `nil` for `null`.
    public static func integer(in bytes: [UInt8], _ range: Range<Int>) throws -> Int64? {
        let text = bytes[range]
        if text.elementsEqual("null".utf8) { return nil }
        var value: Int64 = 0
        var negative = false
        var digits = 0
        for (offset, byte) in text.enumerated() {
            if offset == 0, byte == UInt8(ascii: "-") { negative = true; continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                throw JSONScanError(offset: range.lowerBound + offset, reason: "expected an integer")
            }
            let (product, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = product.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { throw JSONScanError(offset: range.lowerBound, reason: "integer too large") }
            value = sum
            digits += 1
        }
        guard digits > 0 else { throw JSONScanError(offset: range.lowerBound, reason: "expected an integer") }
        return negative ? -value : value
    }

    // MARK: - Scanning

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func failure(_ reason: String) -> JSONScanError { JSONScanError(offset: index, reason: reason) }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else {
            throw failure("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        index += 1
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    private mutating func skipLiteral(_ literal: StaticString) throws {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("unexpected end of text") }
        let matches = literal.withUTF8Buffer { expected in bytes[index..<index + count].elementsEqual(expected) }
        guard matches else { throw failure("invalid literal") }
        index += count
    }

    private mutating func skipValue(depth: Int) throws {
        guard depth < 64 else { throw failure("nested too deeply") }
        guard let byte = peek() else { throw failure("unexpected end of text") }
        switch byte {
        case UInt8(ascii: "{"):
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipWhitespace()
                try skipString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return
            }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "]") { index += 1; return }
            while true {
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "]"))
                return
            }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try skipLiteral("true")
        case UInt8(ascii: "f"): try skipLiteral("false")
        case UInt8(ascii: "n"): try skipLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        default: throw failure("unexpected character")
        }
    }

    private mutating func skipNumber() throws {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        var sawDigit = false
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true; index += 1
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-"): index += 1
            default:
                guard sawDigit else { index = start; throw failure("invalid number") }
                return
            }
        }
        guard sawDigit else { throw failure("invalid number") }
    }

    private mutating func skipString() throws {
        try expect(UInt8(ascii: "\""))
        while true {
            index = plainRunEnd(from: index)
            guard index < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { index += 1; return }
            guard byte == UInt8(ascii: "\\") else { throw failure("control character in string") }
            index += 2
        }
    }

    /// The index of the first quote, backslash or control character (which JSON allows only escaped) at or after
    /// `start`, or the end of the text: where a string's run of plain bytes ends. Most of a WooCommerce payload
    /// is string contents, so this reads eight bytes per step (SWAR): a byte is flagged when it equals `"` or `\`
    /// or is below 0x20. Such tests may also flag a byte above a flagged one (borrows), never one below, so the
    /// lowest flag is exact.
    private func plainRunEnd(from start: Int) -> Int {
        bytes.withUnsafeBufferPointer { buffer in
            let count = buffer.count
            var position = start
            if let base = buffer.baseAddress {
                let ones: UInt64 = 0x0101_0101_0101_0101
                let highs: UInt64 = 0x8080_8080_8080_8080
                while position + 8 <= count {
                    let word = UInt64(littleEndian: UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self))
                    let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
                    let flags = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (word &- ones &* 0x20) & ~word) & highs
                    if flags != 0 { return position + flags.trailingZeroBitCount / 8 }
                    position += 8
                }
            }
            while position < count, buffer[position] != 0x22, buffer[position] != 0x5C, buffer[position] >= 0x20 { position += 1 }
            return position
        }
    }

    private mutating func readString() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        // Fast path: no escapes.
        index = plainRunEnd(from: index)
        if let byte = peek(), byte < 0x20 { throw failure("control character in string") }
        if peek() == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: bytes[start..<index - 1], as: UTF8.self)
        }
        var decoded = Array(bytes[start..<index])
        while let byte = peek() {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escape = peek() else { throw failure("unterminated escape") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800..<0xDC00).contains(scalar), peek() == UInt8(ascii: "\\") {
                        index += 1
                        try expect(UInt8(ascii: "u"))
                        let low = try readHex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00)
                    }
                    decoded.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
                default: throw failure("invalid escape")
                }
            default:
                if byte < 0x20 { throw failure("control character in string") }
                decoded.append(byte)
            }
        }
        throw failure("unterminated string")
    }

    private mutating func readHex4() throws -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}

/// Where and why JSON text could not be read.
public struct JSONScanError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}
