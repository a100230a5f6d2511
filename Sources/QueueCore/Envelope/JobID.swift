import Synchronization

/// Job identifiers: time-ordered, unique across processes, and safe inside Redis keys and Lua patterns.
public enum JobID {
    private static let counter = Atomic<UInt32>(UInt32.random(in: 0..<UInt32.max))
    private static let processSalt = UInt32.random(in: 0..<(1 << 20))

    /// A new id: 9 base-36 digits of milliseconds, then 4 of a per-process salt and 5 of a counter.
    public static func make(now: Int64 = WallClock.nowMillis()) -> String {
        let sequence = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return pad(String(now, radix: 36), 9) + pad(String(processSalt, radix: 36), 4) + pad(String(sequence % 60_466_176, radix: 36), 5)
    }

    /// Whether a caller-supplied id can be used: 1–64 of `A–Z a–z 0–9 . _ : -`.
    public static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
        }
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
