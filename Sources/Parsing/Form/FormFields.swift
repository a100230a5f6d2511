/// An `application/x-www-form-urlencoded` body, as HTML forms send it: name–value pairs in their order, where a
/// name may repeat (the dead-letter review's `id` checkboxes do).
///
/// Decoding is strict and never traps: `+` is a space, `%XX` a byte, empty pairs (`&&`) are skipped, a pair without
/// `=` has an empty value; a `%` not followed by two hex digits, or bytes that are not UTF-8 once decoded, are an
/// error that says where.
public struct FormFields: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var fields: [Field]

    public init(_ fields: [Field]) {
        self.fields = fields
    }

    public init(decoding body: some Collection<UInt8>) throws(FormError) {
        let bytes = Array(body)
        var fields: [Field] = []
        var start = 0
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.count
            if end > start {
                let equals = bytes[start..<end].firstIndex(of: UInt8(ascii: "="))
                if let equals {
                    fields.append(Field(name: try Self.decode(bytes, start..<equals), value: try Self.decode(bytes, (equals + 1)..<end)))
                } else {
                    fields.append(Field(name: try Self.decode(bytes, start..<end), value: ""))
                }
            }
            start = end + 1
        }
        self.fields = fields
    }

    /// The first non-empty value of `name`.
    public func value(_ name: String) -> String? {
        fields.first { $0.name == name && !$0.value.isEmpty }?.value
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name == name }.map(\.value)
    }

    private static func decode(_ bytes: [UInt8], _ range: Range<Int>) throws(FormError) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "+"):
                decoded.append(0x20)
                index += 1
            case UInt8(ascii: "%"):
                guard index + 2 < range.upperBound, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    throw FormError(offset: index, reason: "'%' must be followed by two hexadecimal digits")
                }
                decoded.append(high << 4 | low)
                index += 3
            default:
                decoded.append(byte)
                index += 1
            }
        }
        guard let text = String(validating: decoded, as: UTF8.self) else {
            throw FormError(offset: range.lowerBound, reason: "a name or value is not UTF-8 text")
        }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Where and why a form body could not be read.
public struct FormError: Error, CustomStringConvertible, Sendable, Equatable {
    public let offset: Int
    public let reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "invalid form body at byte \(offset): \(reason)" }
}
