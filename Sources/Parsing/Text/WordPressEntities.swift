/// The HTML-entity decoding WordPress applies to a webhook secret before signing with it:
/// `wp_specialchars_decode($secret, ENT_QUOTES)`.
///
/// It decodes exactly WordPress's table and nothing else: `&amp; &lt; &gt; &quot;`, the decimal forms of
/// `' " < > &` with any number of leading zeros (`&#39;`, `&#0039;`), and the hexadecimal forms of `' " &`
/// (`&#x27;`, `&#X0022;`). Like PHP's `strtr`, it makes one pass: `&amp;lt;` becomes `&lt;`, not `<`.
public enum WordPressEntities {
    public static func specialcharsDecode(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "&")) else { return text }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "&"), let (decoded, length) = entity(in: bytes, at: index) {
                output.append(decoded)
                index += length
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static let named: [(String, UInt8)] = [
        ("&amp;", UInt8(ascii: "&")), ("&lt;", UInt8(ascii: "<")), ("&gt;", UInt8(ascii: ">")), ("&quot;", UInt8(ascii: "\"")),
    ]
    /// Decimal code points WordPress decodes, by their value without leading zeros.
    private static let decimal: [String: UInt8] = [
        "39": UInt8(ascii: "'"), "34": UInt8(ascii: "\""), "60": UInt8(ascii: "<"), "62": UInt8(ascii: ">"), "38": UInt8(ascii: "&"),
    ]
    /// Hexadecimal code points WordPress decodes (`&#x3c;` and `&#x3e;` are not among them).
    private static let hexadecimal: [String: UInt8] = [
        "27": UInt8(ascii: "'"), "22": UInt8(ascii: "\""), "26": UInt8(ascii: "&"),
    ]

    /// The character an entity at `start` stands for, and the entity's length in bytes.
    private static func entity(in bytes: [UInt8], at start: Int) -> (UInt8, Int)? {
        for (name, character) in named where bytes[start...].starts(with: name.utf8) {
            return (character, name.utf8.count)
        }
        var index = start + 1
        guard index < bytes.count, bytes[index] == UInt8(ascii: "#") else { return nil }
        index += 1
        let isHex = index < bytes.count && (bytes[index] == UInt8(ascii: "x") || bytes[index] == UInt8(ascii: "X"))
        if isHex { index += 1 }
        let digitsStart = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        guard index > digitsStart, index < bytes.count, bytes[index] == UInt8(ascii: ";") else { return nil }
        let digits = String(decoding: bytes[digitsStart..<index].drop { $0 == UInt8(ascii: "0") }, as: UTF8.self)
        guard let character = isHex ? hexadecimal[digits] : decimal[digits] else { return nil }
        return (character, index + 1 - start)
    }
}
