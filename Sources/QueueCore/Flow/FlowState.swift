/// A type's flow state as `status`, the dashboard and `/metrics` show it.
public struct FlowTypeState: Sendable, Equatable {
    public var type: String
    public var queue: String
    public var limits: FlowLimits
    /// Calls running now (slot leases alive).
    public var running: Int
    /// Jobs waiting for a slot, a resume or a probe.
    public var waiting: Int
    /// Jobs waiting for a token, a hold or a cool-down to pass.
    public var throttled: Int
    /// `closed`, `open` or `half-open`.
    public var circuit: String
    /// Consecutive transient failures counted by the breaker.
    public var failures: Int
    /// Until when the dependency's `Retry-After` holds the type (ms), if it does now.
    public var heldUntil: Int64?
    /// Until when the circuit is open (ms), if it is.
    public var openUntil: Int64?
    /// Paused: until when (ms), 0 until resumed; `nil` when not paused. A pause of the whole queue counts.
    public var pausedUntil: Int64?

    public init(type: String, queue: String, limits: FlowLimits, running: Int = 0, waiting: Int = 0, throttled: Int = 0,
                circuit: String = "closed", failures: Int = 0, heldUntil: Int64? = nil, openUntil: Int64? = nil, pausedUntil: Int64? = nil) {
        self.type = type
        self.queue = queue
        self.limits = limits
        self.running = running
        self.waiting = waiting
        self.throttled = throttled
        self.circuit = circuit
        self.failures = failures
        self.heldUntil = heldUntil
        self.openUntil = openUntil
        self.pausedUntil = pausedUntil
    }
}

extension FlowTypeState {
    /// What holds the type back, as `status` and the dashboard show it: `paused until resumed; 3 failure(s) in a
    /// row`, or `running`. `duration` spells a time left (ms).
    public func stateSummary(now: Int64, duration: (Int64) -> String) -> String {
        var state: [String] = []
        if let pausedUntil { state.append(pausedUntil == 0 ? "paused until resumed" : "paused for \(duration(max(0, pausedUntil - now)))") }
        if let heldUntil { state.append("held by Retry-After for \(duration(max(0, heldUntil - now)))") }
        if let openUntil { state.append("probe in \(duration(max(0, openUntil - now)))") }
        if failures > 0 { state.append("\(failures) failure(s) in a row") }
        return state.isEmpty ? "running" : state.joined(separator: "; ")
    }
}

/// A queue's and its types' flow state: what is paused, held or open.
public struct FlowQueueState: Sendable, Equatable {
    public var queue: String
    /// The whole queue is paused: until when (ms), 0 until resumed.
    public var pausedUntil: Int64?
    public var types: [FlowTypeState]
    /// Redis's clock when read, ms.
    public var now: Int64

    public init(queue: String, pausedUntil: Int64?, types: [FlowTypeState], now: Int64) {
        self.queue = queue
        self.pausedUntil = pausedUntil
        self.types = types
        self.now = now
    }
}
