import Foundation

/// Durations as people write them in `config.json` and on the command line: `250ms`, `1.5s`, `5m`, `1h`, `2d`,
/// or a plain number of seconds.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, seconds) in units where trimmed.hasSuffix(suffix) {
            if let value = Double(trimmed.dropLast(suffix.count)) { return milliseconds(seconds: value * seconds) }
        }
        return Double(trimmed).flatMap { milliseconds(seconds: $0) }
    }

    /// About 31 years: longer durations are refused rather than overflow a millisecond count.
    public static let longestSeconds: Double = 1e9

    /// `seconds` to the nearest millisecond; `nil` unless it is from 0 to ``longestSeconds``.
    public static func milliseconds(seconds: Double) -> Duration? {
        guard seconds >= 0, seconds <= longestSeconds, let milliseconds = Int64(exactly: (seconds * 1000).rounded()) else { return nil }
        return .milliseconds(milliseconds)
    }

    /// The shortest exact spelling: `30s`, `5m`, `1h`, `250ms`.
    public static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms > 0, ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms > 0, ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}
