/// Text from Redis (keys, errors, payloads: what a webhook or a handler put there) made safe to print on a
/// terminal: control characters (C0, DEL and C1, escape sequences among them) are shown as `\u{1B}`, so a job
/// cannot move the cursor, retitle the window or hide a line of `dlq` or `status` output.
enum TerminalText {
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
