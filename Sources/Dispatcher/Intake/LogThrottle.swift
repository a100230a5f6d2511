import Synchronization

/// Lets one log line through per `interval` and counts the ones held back, so a flood of refused requests cannot
/// flood the log; the next line that passes says how many were held back.
final class LogThrottle: Sendable {
    private let interval: Duration
    private let state = Mutex<(last: ContinuousClock.Instant?, heldBack: Int)>((nil, 0))

    init(interval: Duration) {
        self.interval = interval
    }

    /// Whether to log now, and how many lines were held back since the last one that was.
    func admit(now: ContinuousClock.Instant = .now) -> (log: Bool, heldBack: Int) {
        state.withLock { state in
            if let last = state.last, now - last < interval {
                state.heldBack += 1
                return (false, 0)
            }
            defer { state = (now, 0) }
            return (true, state.heldBack)
        }
    }
}

extension String {
    /// At most `limit` characters of a value that came from outside, for a log line or an error; longer text ends
    /// with `…` and its full length in bytes.
    func clipped(to limit: Int = 64) -> String {
        guard count > limit else { return self }
        return "\(prefix(limit))… (\(utf8.count) bytes)"
    }
}
