/// A process metric wooqueue reports through swift-metrics: the label it is created with (its Prometheus name)
/// and what it means, which the exporter prints as its `# HELP` line (swift-metrics itself carries no help text).
public struct ProcessMetric: Sendable, Hashable {
    public let name: String
    public let help: String

    /// Jobs whose outcome a worker wrote, by `queue`, `type` and `outcome`.
    public static let jobs = ProcessMetric(
        name: "wooqueue_jobs_total",
        help: "Jobs whose outcome this process wrote: done, retried, dead, postponed (dependency outage), requeued (shutdown); and jobs it recovered from dead processes (recovered).")
    /// Handler time per job, by `queue` and `type`.
    public static let jobDuration = ProcessMetric(
        name: "wooqueue_job_duration_seconds", help: "Time the handler took per job (a batch's time shared among its jobs).")
    /// From a job's due time to its start, by `queue`.
    public static let pickupLatency = ProcessMetric(
        name: "wooqueue_job_pickup_latency_seconds", help: "From the time a job was due to the time a worker started it.")

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
    /// Products the inventory handler dealt with, by `outcome`.
    public static let inventoryRows = ProcessMetric(
        name: "wooqueue_inventory_rows_total",
        help: "Products this process's bulk workers dealt with: written, skipped_older, skipped_no_sku, truncated (values cut to fit), rejected, deleted, delete_not_found.")
    /// Time of each upsert statement.
    public static let inventoryBatchDuration = ProcessMetric(
        name: "wooqueue_inventory_batch_duration_seconds", help: "Time of each PostgreSQL upsert statement of the bulk workers (one batch).")

    /// Every process metric, for the exporter.
    public static let all: [ProcessMetric] = [
        jobs, jobDuration, pickupLatency, webhooks, spooledDeliveries, spoolQuarantineBytes, spoolStuck, inventoryRows, inventoryBatchDuration,
    ]
}
