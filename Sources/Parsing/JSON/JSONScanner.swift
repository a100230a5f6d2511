/// A strict, allocation-light reader for JSON text (RFC 8259).
///
/// It reads one top-level object's members, decoding the scalar values the caller asks for and handing back the
/// exact bytes of the rest, so envelopes keep payloads and unknown fields byte for byte.
///
/// Strict means: text that is not JSON is rejected with a ``JSONScanError`` that says where and why — numbers
/// follow the grammar (no `01`, `1-2e+`, `.5`), only the escapes JSON defines are read (no `\x`), strings hold
/// valid UTF-8 and no raw control character. One thing is lenient on purpose: an escaped surrogate that is not
/// part of a pair (`"\ud800"`, `"\ud800\u0041"`) reads as U+FFFD, as WordPress's own decoder would, instead of
/// failing a whole payload. Nothing in here traps on any input.
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
    /// members of a large object, such as a WooCommerce product. Returns where the object ends (the index after
    /// its closing brace). `asElement`: the object is an element of an array, read on its own; its values then
    /// nest as deep as ``forEachElement(of:in:_:)`` lets an element nest, no deeper.
    @discardableResult
    public static func forEachMember(
        of bytes: [UInt8], in range: Range<Int>? = nil, named names: [[UInt8]], asElement: Bool = false,
        _ member: (_ name: Int, _ value: Range<Int>) throws -> Void
    ) throws -> Int {
        try bytes.withUnsafeBufferPointer { text in
            try walkMembers(of: bytes, in: range, valueDepth: asElement ? 1 : 0) { key, value in
                // Inside the quotes, compared in place: no slice, and a length and first byte rule out most names.
                let start = key.lowerBound + 1, length = key.count - 2
                guard length > 0 else { return }
                let first = text[start]
                for (position, name) in names.enumerated() where name.count == length && name[0] == first {
                    var offset = 1
                    while offset < length, text[start + offset] == name[offset] { offset += 1 }
                    if offset == length {
                        try member(position, value)
                        return
                    }
                }
            }
        }
    }

    /// The members of the object at `range`, as the byte ranges of each quoted name and its value. Without a
    /// range the object must be the whole text. Values are skipped at nesting depth `valueDepth`. Returns where the
    /// object ends.
    @discardableResult
    private static func walkMembers(
        of bytes: [UInt8], in range: Range<Int>?, valueDepth: Int = 0,
        _ member: (_ key: Range<Int>, _ value: Range<Int>) throws -> Void
    ) throws -> Int {
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
                try scanner.skipValue(depth: valueDepth)
                try member(key, start..<scanner.index)
                scanner.skipWhitespace()
                if scanner.peek() == UInt8(ascii: ",") { scanner.index += 1; continue }
                try scanner.expect(UInt8(ascii: "}"))
                break
            }
        }
        if range == nil {
            scanner.skipWhitespace()
            if scanner.index != bytes.count { throw scanner.failure("unexpected text after the object") }
        }
        return scanner.index
    }

    /// Where the value of the top-level object's first member starts, when that member is named `name` (written
    /// without escapes); nil otherwise. Reads only the opening brace and the name, never the value: a cheap way to
    /// tell one shape of payload from another before reading it in full.
    public static func valueOfFirstMember(named name: [UInt8], in bytes: [UInt8]) -> Int? {
        var scanner = JSONScanner(bytes)
        scanner.skipWhitespace()
        guard (try? scanner.expect(UInt8(ascii: "{"))) != nil else { return nil }
        scanner.skipWhitespace()
        let keyStart = scanner.index
        guard (try? scanner.skipString()) != nil,
              bytes[(keyStart + 1)..<(scanner.index - 1)].elementsEqual(name) else { return nil }
        scanner.skipWhitespace()
        guard (try? scanner.expect(UInt8(ascii: ":"))) != nil else { return nil }
        scanner.skipWhitespace()
        return scanner.index
    }

    /// Calls `element` with the byte range of each element of the array at `range`, until it returns false.
    public static func forEachElement(of bytes: [UInt8], in range: Range<Int>, _ element: (Range<Int>) throws -> Bool) throws {
        try walkElements(of: bytes, in: range) { scanner in
            let start = scanner.index
            try scanner.skipValue(depth: 0)
            return try element(start..<scanner.index)
        }
    }

    /// Calls `element` with where each element of the array at `range` starts; `element` reads the element and
    /// returns where it ends (``forEachMember(of:in:named:asElement:_:)`` says so for an object), so each element is
    /// scanned once. An end that is not past the start, or beyond `range`, is an error.
    public static func forEachElement(of bytes: [UInt8], in range: Range<Int>, reading element: (Int) throws -> Int) throws {
        try walkElements(of: bytes, in: range) { scanner in
            let start = scanner.index
            let end = try element(start)
            guard end > start, end <= range.upperBound, end <= bytes.count else {
                throw JSONScanError(offset: start, reason: "an element's reader ended at \(end)")
            }
            scanner.index = end
            return true
        }
    }

    /// The elements of the array at `range`: `element` moves the scanner from an element's start past its end, and
    /// returns false to stop.
    private static func walkElements(of bytes: [UInt8], in range: Range<Int>, _ element: (inout JSONScanner) throws -> Bool) throws {
        var scanner = JSONScanner(bytes)
        scanner.index = range.lowerBound
        scanner.skipWhitespace()
        try scanner.expect(UInt8(ascii: "["))
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "]") { return }
        while true {
            scanner.skipWhitespace()
            guard try element(&scanner) else { return }
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

    /// `bytes` without the white space between tokens, so a value takes one line whatever its layout, and with the
    /// control characters JSON allows raw in strings (DEL, U+0080–U+009F) escaped, so printing it cannot drive a
    /// terminal: the JSON-lines exports. Throws when `bytes` are not one valid JSON value.
    public static func compacted(_ bytes: [UInt8]) throws -> [UInt8] {
        try validate(bytes)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var inString = false, escaped = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                } else if byte == 0x7F || (byte == 0xC2 && index < bytes.count && (0x80...0x9F).contains(bytes[index])) {
                    let code = byte == 0x7F ? byte : bytes[index]
                    if byte == 0xC2 { index += 1 }
                    output += Array("\\u00".utf8) + [hexDigit(code >> 4), hexDigit(code & 0x0F)]
                    continue
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                continue
            }
            output.append(byte)
        }
        return output
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
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

    // The per-token steps below are inlined, their errors built out of line: they run for every token.

    @inline(__always)
    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func failure(_ reason: String) -> JSONScanError { JSONScanError(offset: index, reason: reason) }

    @inline(never)
    private func missing(_ byte: UInt8) -> JSONScanError { failure("expected '\(Character(Unicode.Scalar(byte)))'") }

    @inline(__always)
    private mutating func expect(_ byte: UInt8) throws {
        guard index < bytes.count, bytes[index] == byte else { throw missing(byte) }
        index += 1
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] <= 0x20, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
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

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`: what may follow is the caller's to check.
    private mutating func skipNumber() throws {
        if peek() == UInt8(ascii: "-") { index += 1 }
        switch peek() ?? 0 {
        case UInt8(ascii: "0"): index += 1
        case UInt8(ascii: "1")...UInt8(ascii: "9"): skipDigits()
        default: throw failure("invalid number: expected a digit")
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() > 0 else { throw failure("invalid number: expected a digit after '.'") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { throw failure("invalid number: expected a digit in the exponent") }
        }
    }

    /// Moves past a run of decimal digits and returns how many there were.
    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    private mutating func skipString() throws {
        try expect(UInt8(ascii: "\""))
        while true {
            index = plainRunEnd(from: index)
            guard index < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { index += 1; return }
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard let escape = peek() else { throw failure("unterminated escape") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): break
                case UInt8(ascii: "u"): _ = try readHex4()
                default: index -= 1; throw failure("invalid escape")
                }
            } else if byte < 0x20 {
                throw failure("control character in string")
            } else {
                index += try utf8SequenceLength(at: index)
            }
        }
    }

    /// The length of the well-formed UTF-8 sequence of a non-ASCII character at `start` (2 to 4 bytes: no overlong
    /// form, no surrogate, nothing above U+10FFFF).
    private func utf8SequenceLength(at start: Int) throws -> Int {
        let lead = bytes[start]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw JSONScanError(offset: start, reason: "invalid UTF-8")
        }
        guard start + length <= bytes.count, secondRange.contains(bytes[start + 1]) else {
            throw JSONScanError(offset: start, reason: "invalid UTF-8")
        }
        for offset in 2..<length where !(0x80...0xBF).contains(bytes[start + offset]) {
            throw JSONScanError(offset: start, reason: "invalid UTF-8")
        }
        return length
    }

    /// The index of the first quote, backslash, control character (which JSON allows only escaped) or non-ASCII
    /// byte (whose UTF-8 is checked) at or after `start`, or the end of the text: where a string's run of plain
    /// ASCII ends. Most of a WooCommerce payload is ASCII string contents (`wp_json_encode` escapes the rest), so
    /// this reads eight bytes per step (SWAR): a byte is flagged when it equals `"` or `\`, is below 0x20 or has
    /// its high bit set. Such tests may also flag a byte above a flagged one (borrows), never one below, so the
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
                    let flags = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (word &- ones &* 0x20) & ~word | word) & highs
                    if flags != 0 { return position + flags.trailingZeroBitCount / 8 }
                    position += 8
                }
            }
            while position < count, buffer[position] != 0x22, buffer[position] != 0x5C, buffer[position] >= 0x20, buffer[position] < 0x80 {
                position += 1
            }
            return position
        }
    }

    private mutating func readString() throws -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        // Fast path: plain ASCII up to the closing quote.
        index = plainRunEnd(from: index)
        if peek() == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: bytes[start..<index - 1], as: UTF8.self)
        }
        var decoded = Array(bytes[start..<index])
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                try readEscape(into: &decoded)
            case 0..<0x20:
                throw failure("control character in string")
            case 0x20..<0x80:
                decoded.append(byte)
                index += 1
            default:
                let length = try utf8SequenceLength(at: index)
                decoded.append(contentsOf: bytes[index..<index + length])
                index += length
            }
        }
        throw failure("unterminated string")
    }

    /// Decodes the escape after a backslash. A high surrogate takes the low one that follows it; an unpaired
    /// surrogate becomes U+FFFD, and whatever followed it is read on its own.
    private mutating func readEscape(into decoded: inout [UInt8]) throws {
        guard let escape = peek() else { throw failure("unterminated escape") }
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            index += 1
            let unit = try readHex4()
            var scalar = Unicode.Scalar(unit)  // nil for a surrogate
            if (0xD800...0xDBFF).contains(unit), let low = lowSurrogate(at: index) {
                index += 6
                scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            }
            decoded.append(contentsOf: String(Character(scalar ?? "\u{FFFD}")).utf8)
            return
        default: throw failure("invalid escape")
        }
        index += 1
    }

    /// The code unit of a `\uDC00`…`\uDFFF` escape at `start`, if there is one.
    private func lowSurrogate(at start: Int) -> UInt32? {
        guard start + 6 <= bytes.count, bytes[start] == UInt8(ascii: "\\"), bytes[start + 1] == UInt8(ascii: "u") else { return nil }
        var probe = self
        probe.index = start + 2
        guard let unit = try? probe.readHex4(), (0xDC00...0xDFFF).contains(unit) else { return nil }
        return unit
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
