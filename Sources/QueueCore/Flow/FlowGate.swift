/// The gates one handler call passes: the names of its concurrency and rate gates (a type, or `<type>|<key>` for
/// a per-key limit) and the limits to apply there.
public struct FlowGate: Sendable, Equatable {
    public var type: String
    public var limits: FlowLimits
    /// The concurrency gate's name, when the type has a concurrency limit.
    public var concurrencyGate: String?
    /// The rate gate's name, when the type has a rate limit.
    public var rateGate: String?

    /// The gates of a call of `type` whose first job is `envelope`.
    public init(type: String, limits: FlowLimits, envelope: JobEnvelope) {
        self.type = type
        self.limits = limits
        if limits.concurrency != nil { concurrencyGate = Self.name(type, limits.concurrencyKey, envelope) }
        if limits.rate != nil { rateGate = Self.name(type, limits.rateLimitKey, envelope) }
    }

    private static func name(_ type: String, _ key: FlowKeySource?, _ envelope: JobEnvelope) -> String {
        guard let key else { return type }
        return "\(type)|\(key.value(of: envelope))"
    }
}

/// What admission decided for a call (``QueueStore/admit(queue:holder:gate:group:leaseMillis:probeLeaseMillis:)``).
public enum FlowAdmission: Sendable, Equatable {
    /// Run it: it holds a slot lease named `member` (and is the circuit's probe when `probe`).
    case admitted(member: String, probe: Bool)
    /// Not now: it waits in Redis, for `reason` (`paused`, `probing`, `waiting` for a slot, `held`, `open`,
    /// `throttled`), until a time (ms) when one is known.
    case parked(reason: String, until: Int64?)
}

/// What a finished call tells flow control.
public enum FlowOutcome: String, Sendable {
    /// It succeeded: resets the breaker's count, closes the circuit after a probe.
    case ok
    /// A transient failure: counts towards the breaker.
    case fail
    /// The dependency asked to wait (`Retry-After`): holds the type.
    case hold
    /// Nothing to learn (a permanent failure, a shutdown).
    case none
}
