public import QueueCore

extension ProcessMetric {
    /// Webhook deliveries by `topic` (a routed topic, else `other`) and `outcome`.
    public static let webhooks = ProcessMetric(
        name: "wooqueue_webhooks_total",
        help: "Webhook deliveries this process answered: accepted, duplicate, bad_signature, spooled, unroutable (kept for review: not JSON, no route, a body that does not fit its topic), ping, overloaded (503: too many unverified bodies at once), failed.")
    /// Bytes of deliveries waiting in this process's spool for Redis.
    public static let spooledDeliveries = ProcessMetric(
        name: "wooqueue_spool_deliveries", help: "Bytes of deliveries kept in this process's local spool while Redis was unreachable, not yet replayed.")
    /// Bytes of unreadable spool records set aside.
    public static let spoolQuarantineBytes = ProcessMetric(
        name: "wooqueue_spool_quarantine_bytes", help: "Bytes of unreadable spool records moved to deliveries.quarantine, waiting for a person.")
    /// 1 while the spool cannot be replayed although Redis answers.
    public static let spoolStuck = ProcessMetric(
        name: "wooqueue_spool_stuck", help: "1 while this process cannot replay its spool although Redis answers (Redis refuses the writes), else 0.")

    /// The intake's metrics, for the exporter.
    public static let intake: [ProcessMetric] = [webhooks, spooledDeliveries, spoolQuarantineBytes, spoolStuck]
}
