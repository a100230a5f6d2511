public import CoreMetrics
import Crypto
import Foundation
public import Logging
import Parsing
public import QueueCore
public import Routing
public import ServiceLifecycle
import Synchronization

/// Decides what becomes of a WooCommerce delivery, independent of the HTTP server carrying it.
///
/// In order: answer WooCommerce's ping; check the signature over the raw bytes (before any parsing); route the
/// signed body to jobs; write them to Redis by group commit; answer 200 only once Redis has them. A signed
/// delivery that cannot be routed (not JSON, unknown topic) is still answered 200, so WooCommerce does not
/// disable the webhook for our reason, and is kept in the `webhooks` dead-letter list for review. While Redis
/// is unreachable, deliveries go to a durable local spool and are answered 200; run the intake as a service to
/// replay the spool once Redis is back.
public final class WebhookIntake: Service, Sendable {

    /// An HTTP answer: status code and a short JSON body.
    public struct Answer: Sendable, Equatable {
        public let status: Int
        public let body: String
    }

    /// What a delivery carries, taken from the request.
    public struct Request: Sendable {
        public var topic: String?
        public var signature: String?
        public var deliveryID: String?
        public var webhookID: String?
        public var body: [UInt8]

        public init(topic: String?, signature: String?, deliveryID: String?, webhookID: String?, body: [UInt8]) {
            self.topic = topic
            self.signature = signature
            self.deliveryID = deliveryID
            self.webhookID = webhookID
            self.body = body
        }
    }

    /// Counts of what the intake answered, since start.
    public struct Counts: Sendable, Equatable {
        public var accepted = 0
        public var duplicates = 0
        public var badSignatures = 0
        public var pings = 0
        public var unroutable = 0
        public var spooled = 0
        public var failed = 0
        public var overloaded = 0
    }

    /// The spool as `/readyz` and the alerts see it.
    public struct SpoolState: Sendable, Equatable {
        /// Bytes waiting for Redis.
        public var bytes: Int
        /// The last replay failed although Redis answered: it refuses the writes.
        public var isStuck: Bool
        /// Bytes of unreadable records moved to the quarantine.
        public var quarantinedBytes: Int
    }

    /// The longest body a ping can have (`webhook_id=N`); an unsigned body longer than this is refused unread.
    public static let longestPing = 64

    private let verifier: SignatureVerifier
    private let router: DeliveryRouter
    private let committer: DeliveryCommitter
    private let spool: DeliverySpool
    private let logger: Logger
    private let counts = Mutex(Counts())
    /// Seen since the last write to Redis: per topic the newest signed delivery, per webhook id the refused
    /// signatures (``QueueStore/recordIntakeActivity(lastDelivery:refused:)``, for `webhooks status` and the watchdog).
    private let activity = Mutex(IntakeActivity())
    private let activityStore: QueueStore
    /// Topics with routes: any other topic header (it is the sender's word) is counted as `other`.
    private let routedTopics: Set<String>
    private let deliveries: CounterFamily
    private let spoolGauge: Gauge
    private let quarantineGauge: Gauge
    private let stuckGauge: Gauge
    private let spoolState = Mutex(SpoolState(bytes: 0, isStuck: false, quarantinedBytes: 0))
    /// At most one line per 10 s about refused signatures: an attacker must not fill the disk with our log.
    private let refusalLog = LogThrottle(interval: .seconds(10))

    /// What the intake answered, as named in ``ProcessMetric/webhooks``.
    enum Outcome: String {
        case accepted, duplicate, badSignature = "bad_signature", ping, unroutable, spooled, overloaded, failed
    }

    /// What the intake reads: the `webhooks` section, and the routes.
    public struct Configuration: Sendable {
        public var webhooks: WebhookSettings
        public var routing: DeliveryRouter.Configuration

        public init(webhooks: WebhookSettings, routing: DeliveryRouter.Configuration) {
            self.webhooks = webhooks
            self.routing = routing
        }
    }

    /// - Parameters:
    ///   - configuration: secrets, routes, delivery retention and the spool's place and size.
    ///   - store: the intake's own Redis connection.
    ///   - metrics: where ``ProcessMetric/webhooks`` and ``ProcessMetric/spooledDeliveries`` go.
    ///   - logger: never given a delivery's body.
    public init(configuration: Configuration, store: QueueStore, metrics: any MetricsFactory = MetricsSystem.factory,
                logger: Logger) throws {
        self.verifier = SignatureVerifier(secrets: configuration.webhooks.secrets)
        self.router = DeliveryRouter(configuration: configuration.routing)
        self.spool = try DeliverySpool(directory: configuration.webhooks.spoolDirectory, maxBytes: configuration.webhooks.spoolMaxBytes,
                                       logger: logger)
        self.committer = DeliveryCommitter(store: store, retention: configuration.webhooks.deliveryRetention, spool: spool)
        // A connection of its own, so these writes never wait behind a batch of deliveries (or hold one up).
        self.activityStore = store.withNewConnection(label: "intake-activity")
        self.logger = logger
        routedTopics = Set(configuration.routing.routes.keys)
        deliveries = CounterFamily(.webhooks, labels: ["topic", "outcome"], factory: metrics)
        spoolGauge = Gauge(label: ProcessMetric.spooledDeliveries.name, factory: metrics)
        quarantineGauge = Gauge(label: ProcessMetric.spoolQuarantineBytes.name, factory: metrics)
        stuckGauge = Gauge(label: ProcessMetric.spoolStuck.name, factory: metrics)
    }

    /// Replays spooled deliveries into Redis whenever it is reachable, until graceful shutdown. A replay reads
    /// the spool only once Redis answers, and backs off after a failure (``DeliveryCommitter``).
    public func run() async throws {
        var last = SpoolState(bytes: 0, isStuck: false, quarantinedBytes: 0)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let waiting = await committer.replayIfIdle()
            let stuckReason = await committer.stuckReason
            let now = SpoolState(bytes: waiting, isStuck: stuckReason != nil, quarantinedBytes: await spool.quarantinedBytes())
            if now.bytes == 0, last.bytes > 0 { logger.notice("Spooled deliveries are in Redis now") }
            if now.bytes > 0, last.bytes == 0 {
                logger.warning("Redis is unreachable; deliveries are kept in the spool", metadata: ["spool": "\(spool.path)"])
            }
            if let stuckReason, !last.isStuck {
                logger.error("The spool cannot be replayed although Redis answers; deliveries stay in the spool", metadata: [
                    "spool": "\(spool.path)", "error": "\(stuckReason)"])
            }
            if now.quarantinedBytes > last.quarantinedBytes {
                logger.error("The spool quarantine holds unreadable records; inspect them, then remove the file", metadata: [
                    "spool.quarantine": "\(spool.quarantinePath)", "spool.bytes": "\(now.quarantinedBytes)"])
            }
            last = now
            await writeActivity()
            spoolState.withLock { $0 = now }
            spoolGauge.record(now.bytes)
            quarantineGauge.record(now.quarantinedBytes)
            stuckGauge.record(now.isStuck ? 1 : 0)
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Writes what the intake saw since the last call; kept for the next call when Redis does not take it.
    private func writeActivity() async {
        let seen = activity.withLock { activity in
            defer { activity = IntakeActivity() }
            return activity
        }
        guard !seen.isEmpty else { return }
        do {
            try await activityStore.recordIntakeActivity(lastDelivery: seen.lastDelivery, refused: seen.refused)
        } catch {
            activity.withLock { $0.merge(seen) }
        }
    }

    /// The spool as of the last replay attempt (every 250 ms).
    public var spoolReadings: SpoolState { spoolState.withLock { $0 } }

    /// How often the spool was read whole (for tests: replays back off).
    var spoolReadsSoFar: Int { spool.readsSoFar }

    /// Bytes of deliveries waiting in the spool for Redis, read now.
    public func spooledBytes() async -> Int {
        (try? await spool.size()) ?? 0
    }

    /// Counts a delivery the server refused (503) because too many unverified bodies were held at once.
    public func countOverloaded(topic: String?) {
        count(.overloaded, Request(topic: topic, signature: nil, deliveryID: nil, webhookID: nil, body: []))
    }

    public var countsSoFar: Counts { counts.withLock { $0 } }

    private func count(_ outcome: Outcome, _ request: Request) {
        counts.withLock { counts in
            switch outcome {
            case .accepted: counts.accepted += 1
            case .duplicate: counts.duplicates += 1
            case .badSignature: counts.badSignatures += 1
            case .ping: counts.pings += 1
            case .unroutable: counts.unroutable += 1
            case .spooled: counts.spooled += 1
            case .failed: counts.failed += 1
            case .overloaded: counts.overloaded += 1
            }
        }
        let topic = request.topic.flatMap { routedTopics.contains($0) ? $0 : nil } ?? "other"
        deliveries.increment([topic, outcome.rawValue])
        switch outcome {
        case .accepted, .duplicate, .unroutable, .spooled:
            // Signed: the topic is the store's.
            if let topic = request.topic { activity.withLock { $0.delivered(topic: topic, at: WallClock.nowMillis()) } }
        case .badSignature:
            if let id = request.webhookID { activity.withLock { $0.refused(webhookID: id) } }
        case .ping, .overloaded, .failed:
            break
        }
    }

    public func receive(_ request: Request) async -> Answer {
        if isPing(request) {
            count(.ping, request)
            return Answer(status: 200, body: #"{"status":"ok"}"#)
        }
        guard verifier.isValid(signature: request.signature, body: request.body) else {
            count(.badSignature, request)
            let admitted = refusalLog.admit()
            if admitted.log {
                logger.warning("Refused a delivery with a missing or invalid signature", metadata: [
                    "webhook.topic": "\((request.topic ?? "-").clipped())", "webhook.delivery": "\((request.deliveryID ?? "-").clipped())",
                    "webhook.id": "\((request.webhookID ?? "-").clipped())",
                    "webhook.secrets": "\(verifier.hasSecrets ? "configured" : "none configured: set webhooks.secrets or WOOQUEUE_WEBHOOK_SECRET")",
                    "log.held_back": "\(admitted.heldBack)",
                ])
            }
            return Answer(status: 401, body: #"{"error":"missing or invalid X-WC-Webhook-Signature"}"#)
        }
        let work = route(request)
        switch await committer.commit(work) {
        case .accepted(let jobs):
            if work.deadLetter != nil {
                count(.unroutable, request)
                return Answer(status: 200, body: #"{"status":"kept for review"}"#)
            }
            count(.accepted, request)
            return Answer(status: 200, body: #"{"status":"accepted","jobs":\#(jobs)}"#)
        case .spooled:
            count(.spooled, request)
            return Answer(status: 200, body: #"{"status":"accepted","spooled":true}"#)
        case .duplicate:
            count(.duplicate, request)
            return Answer(status: 200, body: #"{"status":"duplicate"}"#)
        case .failed(let reason):
            count(.failed, request)
            logger.error("Could not store a delivery; WooCommerce sees a failed delivery", metadata: [
                "webhook.topic": "\((request.topic ?? "-").clipped())", "webhook.delivery": "\((request.deliveryID ?? "-").clipped())",
                "error": "\(reason)",
            ])
            return Answer(status: 503, body: #"{"error":"cannot store the delivery now"}"#)
        }
    }

    /// WooCommerce's ping when a webhook is saved: a form body `webhook_id=N` and none of the `X-WC-*` headers.
    private func isPing(_ request: Request) -> Bool {
        let prefix = Array("webhook_id=".utf8)
        guard request.signature == nil, request.topic == nil, request.deliveryID == nil, request.body.count < Self.longestPing,
              request.body.starts(with: prefix) else { return false }
        return request.body.dropFirst(prefix.count).allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// The jobs a signed delivery becomes, or a dead letter that says why it cannot become any.
    private func route(_ request: Request) -> DeliveryCommitter.Work {
        let topic = request.topic ?? ""
        do {
            let delivery = Delivery(topic: topic, deliveryID: request.deliveryID, body: request.body, origin: "woocommerce")
            let routed = try router.route(delivery)
            // An order's creation fans out once, by its id (a catch-up or sweep may have routed it already), not
            // by the body, which differs between a delivery and the REST answer.
            let claim = routed.onceKey.map { QueueStore.DeliveryClaim(key: $0, token: JobID.make()) } ?? claim(request)
            return .init(claim: claim, jobs: routed.jobs)
        } catch {
            let reason = topic.isEmpty ? "the delivery has no X-WC-Webhook-Topic" : "\(error)"
            logger.warning("Kept an unroutable delivery for review", metadata: [
                "webhook.topic": "\(topic.clipped())", "webhook.delivery": "\((request.deliveryID ?? "-").clipped())",
                "reason": "\(reason.clipped(to: 300))",
            ])
            let kept = KeptDelivery(topic: request.topic, deliveryID: request.deliveryID, webhookID: request.webhookID, body: request.body)
            return .init(claim: claim(request), jobs: [], deadLetter: kept.envelope(reason: reason))
        }
    }

    /// The delivery's de-duplication claim: a hash of its body. WooCommerce signs only the body, so a repeat is
    /// the same body whatever delivery id or topic header it carries now (and whichever of two secrets signed it
    /// during a rotation); and two different events that share a delivery id (it is a hash of the webhook id and
    /// the current second) have different bodies. A body seen again after `webhooks.deliveryRetention` is taken
    /// as new.
    private func claim(_ request: Request) -> QueueStore.DeliveryClaim {
        .init(key: Self.claimKey(body: request.body), token: JobID.make())
    }

    /// `body:` and the hex SHA-256 of the body.
    static func claimKey(body: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var key = Array("body:".utf8)
        for byte in SHA256.hash(data: body) {
            key.append(digits[Int(byte >> 4)])
            key.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: key, as: UTF8.self)
    }
}

/// The intake's activity between two writes to Redis. Refusals come from unsigned requests, so what they name is
/// bounded: only numeric webhook ids, and at most 100 distinct ones per write.
struct IntakeActivity: Sendable {
    var lastDelivery: [String: Int64] = [:]
    var refused: [String: Int] = [:]

    var isEmpty: Bool { lastDelivery.isEmpty && refused.isEmpty }

    mutating func delivered(topic: String, at millis: Int64) {
        guard topic.utf8.count <= 100 else { return }
        lastDelivery[topic] = max(lastDelivery[topic] ?? 0, millis)
    }

    mutating func refused(webhookID: String) {
        guard (1...19).contains(webhookID.utf8.count), webhookID.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              refused[webhookID] != nil || refused.count < 100 else { return }
        refused[webhookID, default: 0] += 1
    }

    mutating func merge(_ other: IntakeActivity) {
        for (topic, millis) in other.lastDelivery { delivered(topic: topic, at: millis) }
        for (id, count) in other.refused where refused[id] != nil || refused.count < 100 { refused[id, default: 0] += count }
    }
}
