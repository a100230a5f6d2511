import Parsing

/// How fast and how wide a job type may call what it calls (`jobTypes.<type>.concurrency`, `rateLimit`, `burst`,
/// `concurrencyKey`, `rateLimitKey`, `breaker`): limits that hold across every process and host.
///
/// Both limits count handler calls: one job, or one batch of a batch handler (one database statement for many jobs).
public struct FlowLimits: Sendable, Equatable {
    /// At most this many calls at once; `nil` for no limit.
    public var concurrency: Int?
    /// When set, ``concurrency`` holds per value of this key (one store's orders) instead of for the whole type.
    public var concurrencyKey: FlowKeySource?
    /// At most ``Rate/count`` calls started per ``Rate/period``, after a burst of ``Rate/burst``; `nil` for none.
    public var rate: Rate?
    /// When set, ``rate`` holds per value of this key.
    public var rateLimitKey: FlowKeySource?
    /// Opens the type's circuit after consecutive transient failures; `nil` for no breaker.
    public var breaker: Breaker?

    public init(concurrency: Int? = nil, concurrencyKey: FlowKeySource? = nil, rate: Rate? = nil, rateLimitKey: FlowKeySource? = nil,
                breaker: Breaker? = nil) {
        self.concurrency = concurrency
        self.concurrencyKey = concurrencyKey
        self.rate = rate
        self.rateLimitKey = rateLimitKey
        self.breaker = breaker
    }

    /// The limits as `status` and the dashboard show them: `2 at once per payload.store, 20/s burst 5`; `nil` when
    /// there is none.
    public var summary: String? {
        var parts: [String] = []
        if let concurrency { parts.append("\(concurrency) at once\(concurrencyKey.map { " per \($0.text)" } ?? "")") }
        if let rate { parts.append("\(rate.text) burst \(rate.burst)\(rateLimitKey.map { " per \($0.text)" } ?? "")") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// True when no limit and no breaker is set: the type's jobs run without asking Redis first.
    public var isEmpty: Bool { concurrency == nil && rate == nil && breaker == nil }

    /// A token bucket: `count` per `period`, holding at most `burst` tokens.
    public struct Rate: Sendable, Equatable {
        public var count: Int
        public var period: Duration
        public var burst: Int

        public init(count: Int, period: Duration, burst: Int = 1) {
            self.count = count
            self.period = period
            self.burst = burst
        }

        /// Time between two tokens, in milliseconds (fractional: 3/s is 333.3 ms).
        public var intervalMillis: Double { Double(period.milliseconds) / Double(count) }

        /// Time the limiter keeps in hand, 5 ms or a tenth of a token's interval if that is less: calls start that
        /// much later than the bucket alone would allow, so the few milliseconds between a call's start and its
        /// arrival, which vary, never let the dependency see more than `count × t + burst` in a window. It costs
        /// nothing with a burst of 2 or more once the bucket is empty; with a burst of 1 the rate is reached to
        /// within that guard per call (91 % at 20/s).
        public var jitterGuardMillis: Double { min(5, intervalMillis / 10) }

        /// `count` per unit as written in config.json: `"20/s"`, `"600/m"`, `"1000/h"`.
        public var text: String {
            switch period {
            case .seconds(1): "\(count)/s"
            case .seconds(60): "\(count)/m"
            default: "\(count)/h"
            }
        }

        /// Reads `"<count>/s"`, `"/m"` or `"/h"`; `nil` for anything else. The count is a whole number from 1 to
        /// 1,000,000.
        public static func parse(_ text: String, burst: Int = 1) -> Rate? {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, (1...7).contains(parts[0].count), parts[0].utf8.allSatisfy({ (48...57).contains($0) }),
                  let count = Int(parts[0]), (1...1_000_000).contains(count) else { return nil }
            let period: Duration
            switch parts[1] {
            case "s": period = .seconds(1)
            case "m": period = .seconds(60)
            case "h": period = .seconds(3600)
            default: return nil
            }
            return Rate(count: count, period: period, burst: burst)
        }
    }

    /// The circuit breaker of a type: `failures` consecutive transient failures open it for `coolDown`.
    public struct Breaker: Sendable, Equatable {
        public var failures: Int
        public var coolDown: Duration

        public init(failures: Int, coolDown: Duration) {
            self.failures = failures
            self.coolDown = coolDown
        }
    }
}

/// Where a per-key limit takes its key from: the envelope's `key`, or a top-level member of the payload.
public enum FlowKeySource: Sendable, Equatable {
    case envelopeKey
    case payloadMember(String)

    /// `"key"` or `"payload.<member>"`; `nil` for anything else.
    public init?(_ text: String) {
        if text == "key" {
            self = .envelopeKey
        } else if text.hasPrefix("payload."), text.count > 8, text.count <= 72 {
            self = .payloadMember(String(text.dropFirst(8)))
        } else {
            return nil
        }
    }

    public var text: String {
        switch self {
        case .envelopeKey: "key"
        case .payloadMember(let member): "payload.\(member)"
        }
    }

    /// The key of `envelope`, at most 128 bytes of it; `""` when the envelope has none (those jobs share one
    /// limit). A string member counts as its text, a number as its digits; any other value counts as none. Reads
    /// only the top level of the payload and never traps on it.
    public func value(of envelope: JobEnvelope) -> String {
        let full: String
        switch self {
        case .envelopeKey:
            full = envelope.key ?? ""
        case .payloadMember(let member):
            var found = ""
            let payload = envelope.payload
            try? JSONScanner.forEachMember(of: payload, named: [Array(member.utf8)]) { _, range in
                guard let first = range.first.map({ payload[$0] }) else { return }
                if first == UInt8(ascii: "\"") {
                    found = (try? JSONScanner.string(in: payload, range)) ?? ""
                } else if first == UInt8(ascii: "-") || (48...57).contains(first) {
                    found = String(decoding: payload[range], as: UTF8.self)
                }
            }
            full = found
        }
        return String(decoding: full.utf8.prefix(128), as: UTF8.self)
    }
}
