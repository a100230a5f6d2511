import Foundation
import Parsing
import Testing

/// `Retry-After` as a peer sends it; the dates are checked against Foundation's own HTTP-date reading.
@Suite struct RetryAfterTests {
    static let now: Int64 = 1_796_083_200  // 2026-12-01T00:00:00Z

    /// Foundation's reading of an IMF-fixdate: an implementation independent of the parser under test.
    static func foundation(_ text: String) -> Int64? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text).map { Int64($0.timeIntervalSince1970) }
    }

    @Test func secondsAreTakenAsTheyAreAndCapped() {
        #expect(RetryAfter.seconds("120", now: Self.now, cap: 3600) == 120)
        #expect(RetryAfter.seconds("  7\t", now: Self.now, cap: 3600) == 7)
        #expect(RetryAfter.seconds("0", now: Self.now, cap: 3600) == 0)
        #expect(RetryAfter.seconds("86400", now: Self.now, cap: 3600) == 3600)
        #expect(RetryAfter.seconds("99999999999999999999999", now: Self.now, cap: 60) == 60, "too many digits: the cap, no trap")
    }

    @Test func httpDatesAreReadAsFoundationReadsThem() throws {
        for text in ["Tue, 01 Dec 2026 00:02:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2028 23:59:59 GMT",
                     "Fri, 31 Dec 2099 12:00:00 GMT", "Mon, 01 Mar 2100 00:00:00 GMT"] {
            let expected = try #require(Self.foundation(text), "\(text)")
            let delay = RetryAfter.seconds(text, now: Self.now, cap: .max)
            #expect(delay == max(expected - Self.now, 0), "\(text)")
        }
        #expect(RetryAfter.seconds("Tue, 01 Dec 2026 00:02:00 GMT", now: Self.now, cap: 3600) == 120)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:49:37 GMT", now: Self.now, cap: 3600) == 0, "a date past is no wait")
    }

    @Test func anythingElseIsNotAValue() {
        for text in ["", "   ", "-5", "+5", "1.5", "soon", "Tue, 01 Dec 2026 00:02:00 UTC", "Tue, 1 Dec 2026 00:02:00 GMT",
                     "Tue, 01 Foo 2026 00:02:00 GMT", "Xyz, 01 Dec 2026 00:02:00 GMT", "Tue, 01 Dec 2026 24:00:00 GMT",
                     "Tue, 01 Dec 2026 00:60:00 GMT", "Tue, 32 Dec 2026 00:00:00 GMT", "Tue, 01 Dec 1969 00:00:00 GMT",
                     "Tuesday, 01-Dec-26 00:02:00 GMT", "Tue Dec  1 00:02:00 2026"] {
            #expect(RetryAfter.seconds(text, now: Self.now, cap: 3600) == nil, "\(text)")
        }
    }
}
