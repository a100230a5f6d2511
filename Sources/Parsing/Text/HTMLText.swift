/// Plain text from the HTML WooCommerce keeps in descriptions: tags dropped (block tags become spaces, inline
/// ones such as `<strong>` nothing), the common entities decoded, white space collapsed. Works on UTF-8 bytes:
/// markup is ASCII, and everything else is copied through.
///
/// Linear in the length of the text, whatever it holds: the `>` that closes a tag is searched for once from where
/// the last search ended, so a text of many `<` and no `>` costs one scan, not one per `<`.
public enum HTMLText {
    public static func plain(_ html: String) -> String {
        var input = html
        return input.withUTF8 { source in
            var text: [UInt8] = []
            text.reserveCapacity(source.count)
            var index = 0
            // The first `>` after the last search's start; `source.count` once there is none left. Searches start
            // past the previous answer, so together they read the text once.
            var nextClose = -1
            func close(after start: Int) -> Int? {
                if nextClose < start { nextClose = source[start...].firstIndex(of: UInt8(ascii: ">")) ?? source.count }
                return nextClose < source.count ? nextClose : nil
            }
            while index < source.count {
                let byte = source[index]
                if byte == UInt8(ascii: "<"), let end = close(after: index) {
                    let name = source[(index + 1)..<end].drop { $0 == UInt8(ascii: "/") }
                        .prefix { isAlphanumeric($0) }.map { $0 | 0x20 }  // lower case
                    if blockTags.contains(name) { text.append(0x20) }
                    index = end + 1
                } else if byte == UInt8(ascii: "&"), let (decoded, length) = entity(source, at: index) {
                    text += decoded
                    index += length
                } else {
                    text.append(byte)
                    index += 1
                }
            }
            return collapsingWhitespace(text)
        }
    }

    /// `text` with its character references decoded (`&amp;`, `&#8211;`, `&#xE1;`) and nothing else changed:
    /// WordPress keeps product names and attribute values HTML-encoded (`Café &amp; Té`), and the ERP wants the
    /// characters. Text without `&` is returned as it is.
    public static func decodingEntities(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "&")) else { return text }
        var input = text
        return input.withUTF8 { source in
            var decoded: [UInt8] = []
            decoded.reserveCapacity(source.count)
            var index = 0
            while index < source.count {
                if source[index] == UInt8(ascii: "&"), let (characters, length) = entity(source, at: index) {
                    decoded += characters
                    index += length
                } else {
                    decoded.append(source[index])
                    index += 1
                }
            }
            return String(decoding: decoded, as: UTF8.self)
        }
    }

    /// The entity at `index` (`&amp;`, `&#225;`, `&#xE1;`) decoded, and its length; nil when it is not one. A
    /// numeric reference to a control character (`&#0;`, `&#27;`) is not decoded: PostgreSQL refuses NUL in text,
    /// and the others have no place in a name or a description.
    private static func entity(_ source: UnsafeBufferPointer<UInt8>, at index: Int) -> ([UInt8], Int)? {
        let limit = min(source.count, index + 12)
        guard let end = source[(index + 1)..<limit].firstIndex(of: UInt8(ascii: ";")) else { return nil }
        let name = String(decoding: source[(index + 1)..<end], as: UTF8.self)
        let decoded: String?
        func character(_ value: UInt32?) -> String? {
            guard let value, value >= 0x20, !(0x7F...0x9F).contains(value), let scalar = Unicode.Scalar(value) else { return nil }
            return String(Character(scalar))
        }
        if name.hasPrefix("#x") || name.hasPrefix("#X") {
            decoded = character(UInt32(name.dropFirst(2), radix: 16))
        } else if name.hasPrefix("#") {
            decoded = character(UInt32(name.dropFirst()))
        } else {
            decoded = named[name]
        }
        return decoded.map { (Array($0.utf8), end - index + 1) }
    }

    /// Runs of white space (ASCII, and the no-break space) become one space; none at either end.
    private static func collapsingWhitespace(_ bytes: [UInt8]) -> String {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var pendingSpace = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let width = byte == 0xC2 && index + 1 < bytes.count && bytes[index + 1] == 0xA0 ? 2 : (isSpace(byte) ? 1 : 0)
            if width > 0 {
                pendingSpace = !result.isEmpty
                index += width
                continue
            }
            if pendingSpace { result.append(0x20); pendingSpace = false }
            result.append(byte)
            index += 1
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static let blockTags: Set<[UInt8]> = Set([
        "p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table", "hr",
        "blockquote", "section", "article", "dd", "dt",
    ].map { Array($0.utf8) })

    private static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "ndash": "–", "mdash": "—",
        "hellip": "…", "laquo": "«", "raquo": "»", "rsquo": "’", "lsquo": "‘", "rdquo": "”", "ldquo": "“",
        "euro": "€", "copy": "©", "reg": "®", "trade": "™", "deg": "°", "times": "×", "iexcl": "¡", "iquest": "¿",
        "aacute": "á", "eacute": "é", "iacute": "í", "oacute": "ó", "uacute": "ú", "ntilde": "ñ", "uuml": "ü",
        "Aacute": "Á", "Eacute": "É", "Iacute": "Í", "Oacute": "Ó", "Uacute": "Ú", "Ntilde": "Ñ", "Uuml": "Ü",
    ]
}
