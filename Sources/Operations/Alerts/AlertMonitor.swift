import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import Parsing
public import QueueCore
import Routing
public import ServiceLifecycle
import Synchronization

/// Evaluates the alert conditions every `alerts.checkInterval` and announces each change to the configured
/// Slack-compatible webhook: once when a condition starts, once when it resolves, and the same announcement of a
/// condition at most once per `alerts.interval`.
///
/// Cluster conditions are claimed through Redis (``QueueStore/alertBoard``, one round
/// trip per check), so with several `serve` processes exactly one announces each change. A process's own
/// conditions (its spool, its bad signatures) are tracked in memory: they are nobody else's, and the spool fills
/// precisely when Redis is away.
public final class AlertMonitor: Service, Sendable {
    private let settings: AlertSettings
    private let queues: [QueueConfiguration.QueueSettings]
    /// The job types, so flow control reports the limited ones even when idle.
    private let jobTypes: [String: QueueConfiguration.JobTypeSettings]
    private let store: QueueStore
    private let process: String
    private let readings: @Sendable () async -> LocalReadings
    /// The webhook check's findings (topic → problem), and the topics it watches; `nil` when it does not run.
    private let webhookFindings: (@Sendable () async -> [String: String]?)?
    private let watchedTopics: [String]
    /// `webhooks.silenceAlert`: zero for off.
    private let silence: Duration
    private let logger: Logger
    private let state = LocalAlertState()

    /// - Parameters:
    ///   - process: names this process in its own conditions, e.g. `web1:4242`.
    ///   - readings: what only this process knows: its refused signatures and overloaded deliveries, its spool.
    ///   - settings: when to check, and the thresholds.
    ///   - queues: the queues whose conditions are checked.
    ///   - webhookFindings: what the webhook check found, per topic in `watchedTopics`; `nil` when it does not run.
    public init(settings: AlertSettings, queues: [QueueConfiguration.QueueSettings], jobTypes: [String: QueueConfiguration.JobTypeSettings] = [:],
                store: QueueStore, process: String,
                readings: @escaping @Sendable () async -> LocalReadings,
                webhookFindings: (@Sendable () async -> [String: String]?)? = nil, watchedTopics: [String] = [],
                silence: Duration = .zero, logger: Logger) {
        self.settings = settings
        self.queues = queues
        self.jobTypes = jobTypes
        self.store = store
        self.process = process
        self.readings = readings
        self.webhookFindings = webhookFindings
        self.watchedTopics = watchedTopics
        self.silence = silence
        self.logger = logger
    }

    public func run() async throws {
        var signatures = PerMinuteRate(), overloaded = PerMinuteRate(), shortfalls = PerMinuteRate(), failovers = PerMinuteRate()
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // The first check waits too: at start, this process's own workers have not registered yet, and a
            // queue with jobs would look unserved. The wait ends at once on graceful shutdown, so `serve` stops
            // promptly instead of after a whole check interval.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.settings.checkInterval) }
            if Task.isShuttingDownGracefully { return }
            let local = await readings()
            signatures.add(local.badSignatures, at: .now)
            overloaded.add(local.overloadedDeliveries, at: .now)
            shortfalls.add(local.replicationShortfalls, at: .now)
            failovers.add(local.failovers, at: .now)
            await check(local: local, badSignaturesPerMinute: signatures.perMinute, overloadedPerMinute: overloaded.perMinute,
                        replicationShortfallsPerMinute: shortfalls.perMinute, failoversPerMinute: failovers.perMinute)
        }
    }

    /// One evaluation: the conditions, and the announcements this process must send.
    func check(local: LocalReadings, badSignaturesPerMinute: Int, overloadedPerMinute: Int = 0,
               replicationShortfallsPerMinute: Int = 0, failoversPerMinute: Int = 0) async {
        let snapshot = try? await store.snapshot(queues: queues, jobTypes: jobTypes, latestEvents: 0)
        let kept = try? await store.deadLetterCount(queue: KeptDelivery.queue)
        let findings = await webhookFindings?()
        let lastDeliveries = silence > .zero ? try? await store.intakeActivity().lastDelivery : nil
        let now = WallClock.nowMillis()
        let conditions = AlertRules.evaluate(snapshot, keptDeliveries: kept, settings: settings, process: process, local: local,
                                             badSignaturesPerMinute: badSignaturesPerMinute, overloadedPerMinute: overloadedPerMinute,
                                             replicationShortfallsPerMinute: replicationShortfallsPerMinute, failoversPerMinute: failoversPerMinute,
                                             webhookProblems: findings, watchedTopics: watchedTopics, lastDeliveries: lastDeliveries,
                                             silence: silence, jobTypes: jobTypes, now: now)
        let cluster = conditions.filter(\.clusterWide)
        let claims = (try? await store.alertBoard.claimChanges(cluster.map { ($0.id, $0.firing) }, now: now, interval: settings.interval))
            ?? Array(repeating: false, count: cluster.count)
        for (condition, claimed) in zip(cluster, claims) where claimed {
            if await !announce(condition) { try? await store.alertBoard.release(condition.id, holds: condition.firing) }
        }
        for condition in conditions where !condition.clusterWide
            && state.claim(condition.id, firing: condition.firing, now: now, interval: settings.interval) {
            if await !announce(condition) { state.release(condition.id, firing: condition.firing) }
        }
    }

    /// Posts `{"text": …}`; false when it could not be delivered (the change is then announced at a later check).
    private func announce(_ condition: AlertCondition) async -> Bool {
        let text = condition.firing ? "wooqueue alert: \(condition.message)" : "wooqueue resolved: \(condition.message)"
        logger.notice("Alert \(condition.firing ? "firing" : "resolved")", metadata: ["alert": "\(condition.id)"])
        guard !settings.webhookURL.isEmpty else { return true }
        var body: [UInt8] = Array(#"{"text":"#.utf8)
        JSONWriter.appendString(text, to: &body)
        body.append(UInt8(ascii: "}"))
        var request = HTTPClientRequest(url: settings.webhookURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            guard (200..<300).contains(response.status.code) else {
                logger.warning("The alert webhook refused an alert; it is tried again at the next check",
                               metadata: ["alert": "\(condition.id)", "status": "\(response.status.code)"])
                return false
            }
            return true
        } catch {
            logger.warning("Could not deliver an alert; it is tried again at the next check",
                           metadata: ["alert": "\(condition.id)", "error": "\(error)"])
            return false
        }
    }
}

/// The in-memory counterpart of the Redis alert state, for a process's own conditions: the same rules
/// (announce what differs from the last announcement, the same announcement at most once per interval).
final class LocalAlertState: Sendable {
    private struct Entry {
        var announcedFiring = false
        var announcedAt: [Bool: Int64] = [:]
    }

    private let entries = Mutex<[String: Entry]>([:])

    func claim(_ id: String, firing: Bool, now: Int64, interval: Duration) -> Bool {
        entries.withLock { entries in
            var entry = entries[id] ?? Entry()
            guard entry.announcedFiring != firing else { return false }
            if let last = entry.announcedAt[firing], now - last < interval.milliseconds { return false }
            entry.announcedFiring = firing
            entry.announcedAt[firing] = now
            entries[id] = entry
            return true
        }
    }

    func release(_ id: String, firing: Bool) {
        entries.withLock { entries in
            entries[id]?.announcedFiring = !firing
            entries[id]?.announcedAt[firing] = nil
        }
    }
}

/// Events (bad signatures, overloaded deliveries) in the last minute, from a running total sampled at each check.
struct PerMinuteRate {
    private var samples: [(at: ContinuousClock.Instant, total: Int)] = []

    mutating func add(_ total: Int, at instant: ContinuousClock.Instant) {
        samples.append((instant, total))
        // Keep the newest sample at least a minute old as the baseline.
        while samples.count > 1, instant - samples[1].at >= .seconds(60) { samples.removeFirst() }
    }

    var perMinute: Int {
        guard let first = samples.first, let last = samples.last else { return 0 }
        return last.total - first.total
    }
}

extension QueueStore {
    /// The alert conditions' shared record (the board `alerts`): which hold, which were announced and when.
    public var alertBoard: AnnouncementBoard { announcementBoard("alerts") }
}
