import FuzzSupport
import Parsing

/// libFuzzer target: `Retry-After` values from a peer. Reading never traps; a delay is never negative nor above the
/// cap; a value of digits alone is that number (capped); a date read back one second later is one second less.
@main enum FuzzRetryAfter {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, count), as: UTF8.self)
    let now: Int64 = 1_796_083_200, cap: Int64 = 3600
    guard let delay = RetryAfter.seconds(text, now: now, cap: cap) else { return 0 }
    guard (0...cap).contains(delay) else { fatalError("\(text): a delay of \(delay) s is outside 0...\(cap)") }
    let trimmed = text.trimmingCharacters(in: " \t")
    if !trimmed.isEmpty, trimmed.utf8.count <= 12, trimmed.utf8.allSatisfy({ (48...57).contains($0) }), let number = Int64(trimmed) {
        guard delay == min(number, cap) else { fatalError("\(text): \(delay), not \(min(number, cap))") }
    } else if delay > 0, delay < cap {
        guard RetryAfter.seconds(text, now: now + 1, cap: cap) == delay - 1 else { fatalError("\(text): a second later is not a second less") }
    }
    return 0
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, set.contains(last) { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
