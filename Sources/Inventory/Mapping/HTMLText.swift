/// Plain text from the HTML WooCommerce keeps in descriptions: tags dropped (block tags become spaces, inline
/// ones such as `<strong>` nothing), the common entities decoded, white space collapsed.
enum HTMLText {
    static func plain(_ html: String) -> String {
        var text = ""
        text.reserveCapacity(html.utf8.count)
        var tag: String?
        var entity: String?
        for character in html {
            if var name = tag {
                if character == ">" {
                    let bare = name.drop { $0 == "/" }.prefix { $0.isLetter || $0.isNumber }.lowercased()
                    if blockTags.contains(bare) { text.append(" ") }
                    tag = nil
                } else if name.count < 12 {
                    name.append(character)
                    tag = name
                }
                continue
            }
            if var pending = entity {
                if character == ";" {
                    text.append(decode(pending) ?? "&\(pending);")
                    entity = nil
                } else if pending.count < 10, character.isLetter || character.isNumber || character == "#" {
                    pending.append(character)
                    entity = pending
                } else {
                    text.append("&\(pending)")
                    entity = nil
                    if character == "<" { tag = "" } else { text.append(character) }
                }
                continue
            }
            switch character {
            case "<": tag = ""
            case "&": entity = ""
            default: text.append(character)
            }
        }
        if let entity { text.append("&\(entity)") }
        return text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    private static let blockTags: Set<String> = [
        "p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table", "hr",
        "blockquote", "section", "article", "dd", "dt",
    ]

    private static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": " ", "ndash": "–", "mdash": "—",
        "hellip": "…", "laquo": "«", "raquo": "»", "rsquo": "’", "lsquo": "‘", "rdquo": "”", "ldquo": "“",
        "euro": "€", "copy": "©", "reg": "®", "trade": "™", "deg": "°", "times": "×", "iexcl": "¡", "iquest": "¿",
        "aacute": "á", "eacute": "é", "iacute": "í", "oacute": "ó", "uacute": "ú", "ntilde": "ñ", "uuml": "ü",
        "Aacute": "Á", "Eacute": "É", "Iacute": "Í", "Oacute": "Ó", "Uacute": "Ú", "Ntilde": "Ñ", "Uuml": "Ü",
    ]

    private static func decode(_ name: String) -> String? {
        if name.hasPrefix("#x") || name.hasPrefix("#X") {
            return UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
        if name.hasPrefix("#") {
            return UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
        }
        return named[name]
    }
}
