/// `%XX` escapes, as URLs and form bodies write bytes that may not appear as they are.
enum PercentDecoding {
    enum Failure: Error {
        /// A `%` at this offset is not followed by two hexadecimal digits.
        case badEscape(offset: Int)
        /// The decoded bytes are not UTF-8 text.
        case notUTF8
    }

    /// The text `bytes[range]` stands for; with `plusIsSpace` (form bodies) a `+` is a space. Never traps.
    static func decode(_ bytes: [UInt8], _ range: Range<Int>, plusIsSpace: Bool) throws(Failure) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "+") where plusIsSpace:
                decoded.append(0x20)
                index += 1
            case UInt8(ascii: "%"):
                guard index + 2 < range.upperBound, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    throw .badEscape(offset: index)
                }
                decoded.append(high << 4 | low)
                index += 3
            default:
                decoded.append(byte)
                index += 1
            }
        }
        guard let text = String(validating: decoded, as: UTF8.self) else { throw .notUTF8 }
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
