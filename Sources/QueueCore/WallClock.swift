import Foundation

/// Wall-clock time in milliseconds since the Unix epoch: what envelopes, scores and events store, so that
/// processes on different hosts agree.
public enum WallClock {
    public static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
