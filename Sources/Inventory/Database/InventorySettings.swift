/// The inventory's sections of `config.json`: `database` and `inventory`.

public struct DatabaseSettings: Sendable {
    /// A libpq URL; overridden by `WOOQUEUE_DATABASE_URL`.
    public var url: String

    public init(url: String) {
        self.url = url
    }
}

public struct InventorySettings: Sendable {
    public enum DeletionMode: String, Sendable, CaseIterable {
        /// `bloqueado = TRUE`, `existencia = 0`: the ERP keeps the row.
        case soft
        /// `DELETE` the row.
        case hard
    }
    /// The ERP's table, `schema.table` (case-sensitive).
    public var table: String
    /// wooqueue's own schema: the SKU function and the bookkeeping table.
    public var stateSchema: String
    public var deletion: DeletionMode
    /// Most upsert jobs a bulk worker writes in one statement.
    public var batchSize: Int
    /// PostgreSQL `statement_timeout` for inventory writes, so a stuck lock cannot hold a worker for ever.
    public var statementTimeout: Duration

    public init(table: String, stateSchema: String, deletion: DeletionMode, batchSize: Int,
                statementTimeout: Duration) {
        self.table = table
        self.stateSchema = stateSchema
        self.deletion = deletion
        self.batchSize = batchSize
        self.statementTimeout = statementTimeout
    }
}
