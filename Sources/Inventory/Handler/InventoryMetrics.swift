public import QueueCore

extension ProcessMetric {
    /// Products the inventory handler dealt with, by `outcome`.
    public static let inventoryRows = ProcessMetric(
        name: "wooqueue_inventory_rows_total",
        help: "Products this process's bulk workers dealt with: written, skipped_older, skipped_no_sku, truncated (values cut to fit), rejected, deleted, delete_not_found.")
    /// Time of each upsert statement.
    public static let inventoryBatchDuration = ProcessMetric(
        name: "wooqueue_inventory_batch_duration_seconds", help: "Time of each PostgreSQL upsert statement of the bulk workers (one batch).")

    /// The inventory writer's metrics, for the exporter.
    public static let inventory: [ProcessMetric] = [inventoryRows, inventoryBatchDuration]
}
