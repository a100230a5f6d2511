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
        do {
            return try PercentDecoding.decode(bytes, range, plusIsSpace: true)
        } catch {
            switch error {
            case .badEscape(let offset): throw FormError(offset: offset, reason: "'%' must be followed by two hexadecimal digits")
            case .notUTF8: throw FormError(offset: range.lowerBound, reason: "a name or value is not UTF-8 text")
            }
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
