import Foundation
public import WooCommerceAPI

/// What `webhooks sync` changes in the store, so that every routed topic has exactly one active webhook that
/// delivers to this installation. Worked out from the store's webhooks alone (no side effect), so `--dry-run`
/// prints exactly what a run would do, and a second run finds nothing to do.
///
/// A webhook is ours when it delivers to this installation's URL, or when its name carries ``namePrefix`` (as
/// every webhook `sync` creates does: that is how one whose URL is wrong is still recognised). Webhooks that are
/// neither are never touched.
public struct WebhookPlan: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        case create(topic: String, WebhookChange)
        /// The webhook, the fields to send, and why each is sent.
        case update(StoreWebhook, WebhookChange, reasons: [String])
        case delete(StoreWebhook, reason: String)
    }

    public var steps: [Step]
    /// Webhooks of the store that deliver elsewhere: left as they are.
    public var elsewhere: [StoreWebhook]

    public static let namePrefix = "wooqueue: "

    /// - Parameters:
    ///   - topics: the routed topics; each gets one webhook.
    ///   - webhooks: the store's webhooks, as listed.
    ///   - deliveryURL: where this installation receives deliveries.
    ///   - secret: the secret a created webhook gets, and one in `needsSecret` is given.
    ///   - needsSecret: ids of webhooks whose signatures the intake refused: their secret is set again.
    ///   - rotate: give every webhook kept `secret` (a rotation: the intake accepts the old one meanwhile).
    public static func make(topics: [String], webhooks: [StoreWebhook], deliveryURL: String, secret: String,
                            needsSecret: Set<Int64> = [], rotate: Bool = false) -> WebhookPlan {
        let ours = webhooks.filter { isOurs($0, deliveryURL: deliveryURL) }.sorted { $0.id < $1.id }
        let routed = Set(topics)
        var steps: [Step] = []
        var used = Set<Int64>()
        for topic in Set(topics).sorted() {
            let candidates = ours.filter { $0.topic == topic && !used.contains($0.id) }
            // Keep the one closest to right: active and delivering here, then delivering here, then the oldest.
            let keep = candidates.min { rank($0, deliveryURL) < rank($1, deliveryURL) }
                ?? ours.first { !used.contains($0.id) && !routed.contains($0.topic) }  // one of ours on an unrouted topic
            guard let keep else {
                steps.append(.create(topic: topic, WebhookChange(name: namePrefix + topic, status: "active", topic: topic,
                                                                 deliveryURL: deliveryURL, secret: secret)))
                continue
            }
            used.insert(keep.id)
            var change = WebhookChange()
            var reasons: [String] = []
            if keep.topic != topic {
                change.topic = topic
                reasons.append("topic \(keep.topic) → \(topic)")
            }
            if !sameURL(keep.deliveryURL, deliveryURL) {
                change.deliveryURL = deliveryURL
                reasons.append("delivery URL \(redacted(keep.deliveryURL)) → \(redacted(deliveryURL))")
            }
            if keep.status != "active" {
                change.status = "active"
                reasons.append("\(keep.status) → active")
            }
            if rotate {
                change.secret = secret
                reasons.append("secret rotated")
            } else if needsSecret.contains(keep.id) {
                change.secret = secret
                reasons.append("the intake refused its signatures: secret set again")
            }
            if !change.isEmpty { steps.append(.update(keep, change, reasons: reasons)) }
            for duplicate in candidates where duplicate.id != keep.id {
                used.insert(duplicate.id)
                steps.append(.delete(duplicate, reason: "a second webhook of ours for \(topic) (webhook \(keep.id) stays)"))
            }
        }
        for webhook in ours where !used.contains(webhook.id) {
            steps.append(.delete(webhook, reason: "its topic \(webhook.topic) is not routed"))
        }
        return WebhookPlan(steps: steps, elsewhere: webhooks.filter { !isOurs($0, deliveryURL: deliveryURL) }.sorted { $0.id < $1.id })
    }

    public static func isOurs(_ webhook: StoreWebhook, deliveryURL: String) -> Bool {
        sameURL(webhook.deliveryURL, deliveryURL) || webhook.name.hasPrefix(namePrefix)
    }

    /// `url` with any password in it replaced by `***`, for output and logs (a delivery URL may carry basic-auth
    /// credentials for a proxy).
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "<unreadable URL>"
    }

    /// The same address, but for a trailing `/` and the case of the scheme and host (the path keeps its case).
    public static func sameURL(_ a: String, _ b: String) -> Bool {
        normalized(a) == normalized(b)
    }

    private static func normalized(_ url: String) -> String {
        var text = Substring(url)
        while text.hasSuffix("/") { text = text.dropLast() }
        guard let schemeEnd = text.range(of: "://") else { return String(text) }
        let authorityEnd = text[schemeEnd.upperBound...].firstIndex(of: "/") ?? text.endIndex
        return text[..<authorityEnd].lowercased() + text[authorityEnd...]
    }

    private static func rank(_ webhook: StoreWebhook, _ deliveryURL: String) -> (Int, Int64) {
        let here = sameURL(webhook.deliveryURL, deliveryURL)
        return (here && webhook.status == "active" ? 0 : here ? 1 : 2, webhook.id)
    }

    /// One line per step, for `--dry-run` and the run's report.
    public var lines: [String] {
        steps.map { step in
            switch step {
            case .create(let topic, _): "create a webhook for \(topic)"
            case .update(let webhook, _, let reasons): "update webhook \(webhook.id) (\(webhook.topic)): \(reasons.joined(separator: "; "))"
            case .delete(let webhook, let reason): "delete webhook \(webhook.id) (\(webhook.topic)): \(reason)"
            }
        }
    }
}
