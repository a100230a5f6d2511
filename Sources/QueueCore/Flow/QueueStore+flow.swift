public import RedisClient

/// Flow control in Redis: admission and release of limited calls, pause and resume, the sweep that starts waiting
/// jobs, and the state `status` shows. The Lua and the key layout are in ``FlowScripts``.
extension QueueStore {
    /// Every flow key of `queue` starts with this (`wq:{high}:flow`): one hash slot with the queue's own keys.
    public func flowBase(_ queue: String) -> String { "\(keys(queue).prefix):{\(queue)}:flow" }

    /// Admits a call (`group`: its envelopes, as held) or parks it in Redis. One script call.
    ///
    /// - Parameters:
    ///   - leaseMillis: how long the slot lasts unless renewed (the process timeout).
    ///   - probeLeaseMillis: how long a probe may take before another job probes instead.
    public func admit(queue: String, holder: String, gate: FlowGate, group: [[UInt8]],
                      leaseMillis: Int64, probeLeaseMillis: Int64) async throws -> FlowAdmission {
        let request = admitRequest(queue: queue, holder: holder, gate: gate, group: group, leaseMillis: leaseMillis, probeLeaseMillis: probeLeaseMillis)
        return try admission(try await connection.pipeline([request])[0], holder: holder, group: group)
    }

    /// What ending a call changed: the circuit `opened` or `closed`, the type `held`, or nothing; and how many
    /// waiting jobs it let start.
    public struct FlowRelease: Sendable, Equatable {
        public var change: String
        public var woken: Int
    }

    /// A call that ended, to tell flow control (``release(_:queue:)``).
    public struct FlowCallEnd: Sendable {
        public var gate: FlowGate
        /// The slot lease from its admission; `nil` for a type without limits that only reports a hold.
        public var member: String?
        public var outcome: FlowOutcome
        /// Until when the type is held (ms), for ``FlowOutcome/hold``.
        public var holdUntil: Int64
        /// How long the slot it frees stays reserved for the waiting job it wakes (the process timeout).
        public var reserveMillis: Int64

        public init(gate: FlowGate, member: String?, outcome: FlowOutcome, holdUntil: Int64 = 0, reserveMillis: Int64 = 15_000) {
            self.gate = gate
            self.member = member
            self.outcome = outcome
            self.holdUntil = holdUntil
            self.reserveMillis = reserveMillis
        }
    }

    /// Ends an admitted call (frees its slot, counts its outcome for the breaker, records a hold). One script call.
    @discardableResult
    public func release(_ end: FlowCallEnd, queue: String) async throws -> FlowRelease {
        Self.flowRelease(try await connection.pipeline([releaseRequest(end, queue: queue)])[0])
    }

    /// Ends a call and admits the next in one round trip (a pipeline): the slot is free before the next call asks.
    public func release(_ end: FlowCallEnd, thenAdmit gate: FlowGate, queue: String, holder: String, group: [[UInt8]],
                        leaseMillis: Int64, probeLeaseMillis: Int64) async throws -> (FlowRelease, FlowAdmission) {
        let replies = try await connection.pipeline([
            releaseRequest(end, queue: queue),
            admitRequest(queue: queue, holder: holder, gate: gate, group: group, leaseMillis: leaseMillis, probeLeaseMillis: probeLeaseMillis),
        ])
        guard replies.count == 2 else { throw RedisError(.unexpectedReply, "expected 2 replies, got \(replies.count)") }
        return (Self.flowRelease(replies[0]), try admission(replies[1], holder: holder, group: group))
    }

    private func admitRequest(queue: String, holder: String, gate: FlowGate, group: [[UInt8]], leaseMillis: Int64, probeLeaseMillis: Int64) -> RedisRequest {
        let k = keys(queue)
        var arguments: [[UInt8]] = [
            Array(flowBase(queue).utf8), Array(holder.utf8), Array(gate.type.utf8),
            Array((gate.concurrencyGate ?? "").utf8), Array(String(gate.limits.concurrency ?? 0).utf8), Array(String(leaseMillis).utf8),
            Array((gate.rateGate ?? "").utf8), Array(String(gate.limits.rate?.intervalMillis ?? 0).utf8),
            Array(String(gate.limits.rate?.burst ?? 1).utf8), Array(String(probeLeaseMillis).utf8),
            Array(String(statusTTLSeconds).utf8), Array(String(group.count).utf8),
            Array(String(gate.limits.rate?.jitterGuardMillis ?? 0).utf8),
        ]
        arguments += group
        return .script(FlowScripts.admit, keys: [k.active(holder: holder), k.ready, statusBucket(queue)], arguments: arguments)
    }

    private func admission(_ reply: RedisValue, holder: String, group: [[UInt8]]) throws -> FlowAdmission {
        let parts = try reply.checked().array ?? []
        guard let outcome = parts.first?.string else { throw RedisError(.unexpectedReply, "flow-admit returned \(reply)") }
        let until = parts.dropFirst().first?.int.map(Int64.init)
        switch outcome {
        case "admitted", "probe":
            let id = group.first.flatMap { JobEnvelope.id(of: $0) } ?? ""
            return .admitted(member: "\(holder)|\(id)", probe: outcome == "probe")
        default:
            return .parked(reason: outcome, until: until.flatMap { $0 > 0 ? $0 : nil })
        }
    }

    private func releaseRequest(_ end: FlowCallEnd, queue: String) -> RedisRequest {
        let gate = end.gate
        return .script(FlowScripts.release, keys: [keys(queue).ready], arguments: [
            Array(flowBase(queue).utf8), Array(gate.type.utf8), Array((end.member ?? "").utf8), Array((gate.concurrencyGate ?? "").utf8),
            Array(String(gate.limits.concurrency ?? 0).utf8), Array(end.outcome.rawValue.utf8), Array(String(end.holdUntil).utf8),
            Array(String(gate.limits.breaker?.failures ?? 0).utf8), Array(String(gate.limits.breaker?.coolDown.milliseconds ?? 0).utf8),
            Array(String(end.reserveMillis).utf8),
        ])
    }

    /// A release's reply; a failed release (a script error) changed nothing anyone needs to hear of.
    private static func flowRelease(_ reply: RedisValue) -> FlowRelease {
        let parts = (try? reply.checked().array) ?? []
        return FlowRelease(change: parts.first?.string ?? "", woken: parts.dropFirst().first?.int ?? 0)
    }

    /// Moves due throttled jobs of `queues` to the head of their ready lists and starts waiting jobs their gates
    /// allow now, one script call per queue in one pipeline. `limits`: the configured types' limits;
    /// `reserveMillis`: how long a woken job's slot stays reserved for it (the process timeout). Returns the next
    /// time (ms, Redis's clock) a throttled job is due, if any, and how many jobs moved.
    public func sweepFlow(queues: [String], limits: [String: FlowLimits], reserveMillis: Int64) async throws -> (nextDue: Int64?, moved: Int) {
        var triples: [[UInt8]] = []
        for (type, flow) in limits.sorted(by: { $0.key < $1.key }) where flow.concurrency != nil {
            triples += [Array(type.utf8), Array(String(flow.concurrency ?? 0).utf8), Array((flow.concurrencyKey == nil ? "" : "1").utf8)]
        }
        let requests: [RedisRequest] = queues.map { queue in
            .script(FlowScripts.sweep, keys: [keys(queue).ready], arguments: [Array(flowBase(queue).utf8), Array(String(reserveMillis).utf8)] + triples)
        }
        var nextDue: Int64?
        var moved = 0
        for reply in try await connection.pipeline(requests) {
            let parts = try reply.checked().array ?? []
            if let due = parts.first?.int, due >= 0 { nextDue = min(nextDue ?? Int64(due), Int64(due)) }
            moved += parts.dropFirst().first?.int ?? 0
        }
        return (nextDue, moved)
    }

    /// The keys (after ``flowBase(_:)``) a lease `member` of a call through `gate` lives in.
    public static func leaseKeys(of gate: FlowGate) -> [String] {
        [":t:\(gate.type):running"] + (gate.concurrencyGate.map { [":g:\($0):slots"] } ?? [])
    }

    /// Extends the leases a process holds, by queue: `(key suffix, member)` pairs from ``leaseKeys(of:)``.
    public func renewLeases(_ leases: [String: [(key: String, member: String)]], leaseMillis: Int64) async throws {
        let requests: [RedisRequest] = leases.filter { !$0.value.isEmpty }.map { queue, held in
            var arguments: [[UInt8]] = [Array(flowBase(queue).utf8), Array(String(leaseMillis).utf8)]
            for lease in held { arguments += [Array(lease.key.utf8), Array(lease.member.utf8)] }
            return .script(FlowScripts.renew, keys: [], arguments: arguments)
        }
        if requests.isEmpty { return }
        for reply in try await connection.pipeline(requests) { _ = try reply.checked() }
    }

    // MARK: - Budgets callers wait for

    /// The flow keys of a budget that is no queue's (`wq:{store}:flow` for the store's REST budget).
    public func flowBase(scope: String) -> String { "\(prefix):{\(scope)}:flow" }

    /// Takes a slot (named `member`, a lease of `leaseMillis`) and a token of the budget `gate` under `scope`; `nil`
    /// when granted, else how long to wait before asking again (`nil` wait: until a slot frees, unknown when).
    public func acquire(scope: String, gate: String, member: String, concurrency: Int?, rate: FlowLimits.Rate?,
                        leaseMillis: Int64) async throws -> (granted: Bool, waitMillis: Int64?) {
        let reply = try await connection.run(FlowScripts.acquire, keys: [], arguments: [
            Array(flowBase(scope: scope).utf8), Array(gate.utf8), Array(member.utf8), Array(String(concurrency ?? 0).utf8),
            Array(String(leaseMillis).utf8), Array(String(rate?.intervalMillis ?? 0).utf8), Array(String(rate?.burst ?? 1).utf8),
            Array(String(rate?.jitterGuardMillis ?? 0).utf8),
        ])
        let parts = reply.array ?? []
        let wait = parts.dropFirst().first?.int ?? -1
        return (parts.first?.int == 1, wait >= 0 ? Int64(wait) : nil)
    }

    /// Gives back a slot taken with ``acquire(scope:gate:member:concurrency:rate:leaseMillis:)``.
    public func releaseSlot(scope: String, gate: String, member: String) async throws {
        _ = try await connection.send(RedisCommand("ZREM", "\(flowBase(scope: scope)):g:\(gate):slots", member))
    }

    // MARK: - Pause and resume

    /// Pauses `type` on `queue`, or the whole queue when `type` is nil, until `until` (ms) or until resumed.
    /// Jobs already running finish; no worker starts another one of it after its next look (within a second).
    public func pause(queue: String, type: String?, until: Int64?) async throws {
        _ = try await connection.send(RedisCommand("HSET", "\(flowBase(queue)):paused", type ?? "*", String(until ?? 0)))
    }

    /// Ends a pause and starts what waited for it at once (`limits` and `reserveMillis` as for
    /// ``sweepFlow(queues:limits:reserveMillis:)``). Returns whether there was a pause, and how many jobs were moved
    /// back to the queue.
    @discardableResult
    public func resume(queue: String, type: String?, limits: [String: FlowLimits], reserveMillis: Int64) async throws -> (wasPaused: Bool, moved: Int) {
        let removed = try await connection.send(RedisCommand("HDEL", "\(flowBase(queue)):paused", type ?? "*")).int ?? 0
        let swept = try await sweepFlow(queues: [queue], limits: limits, reserveMillis: reserveMillis)
        return (removed > 0, swept.moved)
    }

    // MARK: - Reading the state

    /// The raw pause and state hashes of each queue (``FlowScripts``' layout), in one pipeline: what a worker
    /// process reads several times a second to know which types must ask before they start.
    public func flowFields(queues: [String]) async throws -> [(queue: String, paused: [String: String], state: [String: String])] {
        let requests: [RedisRequest] = queues.flatMap { queue in
            [.command(RedisCommand("HGETALL", "\(flowBase(queue)):paused")), .command(RedisCommand("HGETALL", "\(flowBase(queue)):state"))]
        }
        let replies = try await connection.pipeline(requests)
        guard replies.count == queues.count * 2 else { throw RedisError(.unexpectedReply, "expected \(queues.count * 2) replies, got \(replies.count)") }
        return try queues.enumerated().map { index, queue in
            (queue, try replies[index * 2].checked().stringFields, try replies[index * 2 + 1].checked().stringFields)
        }
    }

    /// The request that reads `queue`'s flow state for ``flowState(queue:reply:limits:)``: `limited` are the
    /// configured limited types of the queue, always reported.
    func flowReport(queue: String, limited: [String]) -> RedisRequest {
        .script(FlowScripts.report, keys: [], arguments: [Array(flowBase(queue).utf8)] + limited.sorted().map { Array($0.utf8) })
    }

    /// Reads the reply of ``flowReport(queue:limited:)``.
    func flowState(queue: String, reply: RedisValue, limits: [String: FlowLimits]) throws -> FlowQueueState {
        let parts = try reply.checked().array ?? []
        guard parts.count >= 3 else { throw RedisError(.unexpectedReply, "flow-report returned \(parts.count) parts") }
        let paused = parts[0].stringFields
        let state = parts[1].stringFields
        let now = Int64(parts[2].int ?? 0)
        func time(_ text: String?) -> Int64? { text.flatMap { Int64($0) } }
        func live(_ until: Int64?) -> Int64? { until.flatMap { $0 == 0 || $0 > now ? $0 : nil } }
        let queuePause = live(time(paused["*"]))
        var types: [FlowTypeState] = []
        for entry in parts.dropFirst(3) {
            let row = entry.array ?? []
            guard row.count == 4, let type = row[0].string else { continue }
            let circuit: String
            switch state["\(type):circuit"] {
            case "open": circuit = "open"
            case "half": circuit = "half-open"
            default: circuit = "closed"
            }
            types.append(FlowTypeState(
                type: type, queue: queue, limits: limits[type] ?? FlowLimits(), running: row[1].int ?? 0, waiting: row[2].int ?? 0,
                throttled: row[3].int ?? 0, circuit: circuit, failures: Int(state["\(type):failures"] ?? "") ?? 0,
                heldUntil: time(state["\(type):held"]).flatMap { $0 > now ? $0 : nil },
                openUntil: circuit == "open" ? time(state["\(type):until"]) : nil,
                pausedUntil: queuePause ?? live(time(paused[type]))))
        }
        return FlowQueueState(queue: queue, pausedUntil: queuePause, types: types.sorted { $0.type < $1.type }, now: now)
    }
}
