/// Reads the text of an `INFO` reply: `# Section` headers, then `name:value` lines ended by CRLF.
public enum RedisInfo {
    /// The value of the field `name`, or nil when the reply has no such line.
    public static func field(_ name: String, in text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":"), line[..<colon] == name else { continue }
            return String(line[line.index(after: colon)...])
        }
        return nil
    }
}
