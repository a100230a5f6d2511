/// When `serve` sends an alert, and where to.
public struct AlertSettings: Sendable {
    /// A Slack-compatible incoming webhook (POST `{"text": …}`); empty: no alerts are sent (they are still
    /// evaluated and shown). `WOOQUEUE_ALERT_WEBHOOK_URL` overrides.
    public var webhookURL = ""
    /// How often the conditions are evaluated.
    public var checkInterval: Duration = .seconds(30)
    /// The same announcement (firing, or resolved) of a condition is sent at most once per interval.
    public var interval: Duration = .seconds(15 * 60)
    /// Dead-lettered jobs of a queue above which it alerts.
    public var deadLetterThreshold = 10
    /// Ready and delayed jobs of a queue above which it alerts.
    public var pendingThreshold = 100
    /// Deliveries with a bad signature per minute, in one process, from which it alerts.
    public var badSignaturesPerMinute = 10

    public init() {}
}
