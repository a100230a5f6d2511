/// An HTTP `Retry-After` value (RFC 9110 §10.2.3), as a server that refuses for now (429, 503) sends it: a number
/// of seconds, or an HTTP date (the IMF-fixdate form, `Sun, 06 Nov 1994 08:49:37 GMT`, which every current server
/// sends). Read from the peer's bytes: it never traps, and a value it cannot read is `nil`, not a guess.
public enum RetryAfter {
    /// The delay the value asks for, in whole seconds from `now` (seconds since 1970), at most `cap`; a date in
    /// the past is 0. `nil` when the value is neither form.
    public static func seconds(_ value: String, now: Int64, cap: Int64) -> Int64? {
        let text = String(value.trimmingSpaces)
        guard !text.isEmpty, cap >= 0 else { return nil }
        if text.utf8.allSatisfy(isDigit) {
            // More digits than a cap can need: the delay is the cap.
            guard text.utf8.count <= 12, let number = Int64(text) else { return cap }
            return min(number, cap)
        }
        guard let date = imfFixdate(text) else { return nil }
        let (delay, overflow) = date.subtractingReportingOverflow(now)
        if overflow { return date > now ? cap : 0 }
        return min(max(delay, 0), cap)
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` as seconds since 1970.
    static func imfFixdate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 6, parts[0].count == 4, parts[0].hasSuffix(","), parts[5] == "GMT",
              days.contains(String(parts[0].dropLast())),
              parts[1].count == 2, let day = Int64(parts[1]), (1...31).contains(day),
              let monthIndex = months.firstIndex(of: String(parts[2])),
              parts[3].count == 4, let year = Int64(parts[3]), year >= 1970 else { return nil }
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 && $0.utf8.allSatisfy(isDigit) }),
              let hour = Int64(clock[0]), let minute = Int64(clock[1]), let second = Int64(clock[2]),
              hour < 24, minute < 60, second < 61 else { return nil }
        let daysSinceEpoch = daysFromCivil(year: year, month: Int64(monthIndex) + 1, day: day)
        return daysSinceEpoch * 86_400 + hour * 3600 + minute * 60 + second
    }

    private static let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's algorithm); the year
    /// has four digits, so nothing here can overflow.
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    fileprivate var trimmingSpaces: Substring {
        let isSpace = { (c: Character) in c == " " || c == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}
