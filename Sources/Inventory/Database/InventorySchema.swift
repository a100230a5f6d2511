public import PostgresClient
import QueueCore

/// Names of the inventory table and of wooqueue's own schema, quoted for SQL.
public struct InventoryNames: Sendable, Equatable {
    /// `"public"."inv_items"`.
    public let table: String
    public let tableSchema: String
    public let tableName: String
    /// `"wooqueue"`.
    public let state: String
    public let stateSchema: String

    public init(settings: InventorySettings) {
        let parts = settings.table.split(separator: ".", maxSplits: 1).map(String.init)
        tableSchema = parts.count == 2 ? parts[0] : "public"
        tableName = parts.last ?? settings.table
        table = "\(Self.quote(tableSchema)).\(Self.quote(tableName))"
        stateSchema = settings.stateSchema
        state = Self.quote(stateSchema)
    }

    /// The SQL function every SKU comparison goes through.
    public var skuKey: String { "\(state).sku_key" }
    /// The bookkeeping table: WooCommerce id ↔ SKU, last applied `date_modified_gmt`, parent data for variations.
    public var syncState: String { "\(state).sync_state" }

    /// An identifier quoted for SQL. Configuration values are checked to be plain identifiers; quoting keeps
    /// their case.
    public static func quote(_ identifier: String) -> String { "\"\(identifier)\"" }
}

/// Creates what wooqueue needs in PostgreSQL (`wooqueue migrate`) and explains the least-privilege role.
public struct InventorySchema: Sendable {
    public let names: InventoryNames
    public let deletion: InventorySettings.DeletionMode

    public init(settings: InventorySettings) {
        names = InventoryNames(settings: settings)
        deletion = settings.deletion
    }

    /// What a migration did.
    public struct Report: Sendable, Equatable {
        public var createdTable: Bool
        public var createdIndex: Bool
        public var rows: Int
    }

    /// Creates the state schema, the SKU function, the bookkeeping table, `inv_items` if it is missing, and the
    /// unique index on the normalized SKU. Idempotent; runs in one transaction under an advisory lock, so two
    /// migrations at once do not race. Throws ``InventorySchemaError/duplicateSKUs(_:)`` (and changes nothing)
    /// when the table already holds SKUs that normalize alike.
    public func migrate(on connection: PostgresConnection) async throws -> Report {
        let names = self.names
        return try await connection.transaction { session in
            try session.execute("SET LOCAL client_min_messages = warning")  // no "already exists, skipping" notices
            try session.query("SELECT pg_advisory_xact_lock(hashtext('wooqueue.migrate'))")
            let tableExisted = try session.query("SELECT to_regclass($1) IS NOT NULL", [names.table]).scalar == "t"
            try session.execute(Self.stateSQL(names))
            if !tableExisted {
                try session.execute("CREATE SCHEMA IF NOT EXISTS \(InventoryNames.quote(names.tableSchema))")
                try session.execute(Self.tableSQL(names))
            }
            let indexName = "\(names.tableName)_sku_key"
            let indexExisted = try session.query(
                "SELECT to_regclass($1) IS NOT NULL", ["\(InventoryNames.quote(names.tableSchema)).\(InventoryNames.quote(indexName))"]).scalar == "t"
            if !indexExisted {
                let duplicates = try session.query("""
                    SELECT \(names.skuKey)(item) AS sku, string_agg(quote_literal(item), ', ' ORDER BY item) AS items, count(*)
                    FROM \(names.table) WHERE \(names.skuKey)(item) IS NOT NULL
                    GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 100
                    """)
                if !duplicates.rows.isEmpty {
                    throw InventorySchemaError.duplicateSKUs(duplicates.rows.map { "\($0[0] ?? ""): \($0[1] ?? "")" })
                }
                try session.execute("CREATE UNIQUE INDEX \(InventoryNames.quote(indexName)) ON \(names.table) ((\(names.skuKey)(item)))")
            }
            let rows = Int(try session.query("SELECT count(*) FROM \(names.table)").scalar ?? "0") ?? 0
            return Report(createdTable: !tableExisted, createdIndex: !indexExisted, rows: rows)
        }
    }

    /// The state schema, the SKU function (the same rule as ``SKU/key(_:)``) and the bookkeeping table. The
    /// function is deliberately not STRICT (NULL gives NULL anyway): PostgreSQL inlines it into queries and index
    /// expressions only then, which makes every batch several times cheaper.
    static func stateSQL(_ names: InventoryNames) -> String {
        """
        CREATE SCHEMA IF NOT EXISTS \(names.state);
        CREATE OR REPLACE FUNCTION \(names.skuKey)(sku text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            RETURN upper(nullif(CASE WHEN btrim(sku, E' \\t\\r\\n') ~ '^[0-9]{1,8}$'
                                     THEN lpad(btrim(sku, E' \\t\\r\\n'), 9, '0')
                                     ELSE btrim(sku, E' \\t\\r\\n') END, ''));
        COMMENT ON FUNCTION \(names.skuKey)(text) IS 'wooqueue: SKU as compared between WooCommerce and inv_items (trimmed, numeric ones zero-padded to 9, upper case)';
        CREATE TABLE IF NOT EXISTS \(names.syncState) (
            woo_id       bigint PRIMARY KEY,
            sku_key      text,
            parent_id    bigint NOT NULL DEFAULT 0,
            modified_gmt timestamp NOT NULL DEFAULT '-infinity',
            deleted      boolean NOT NULL DEFAULT false,
            name         text,
            image        text,
            category_id  bigint,
            synced_at    timestamptz NOT NULL DEFAULT now()
        );
        -- Every write updates its product's row: room on each page lets PostgreSQL update in place (HOT).
        ALTER TABLE \(names.syncState) SET (fillfactor = 80);
        -- Looked up by woo_id only: no other index, so every batch updates one index less and updates can be HOT.
        DROP INDEX IF EXISTS \(names.state).sync_state_sku_key;
        COMMENT ON TABLE \(names.syncState) IS 'wooqueue bookkeeping: WooCommerce id to SKU, last applied date_modified_gmt, deletions';
        """
    }

    /// `inv_items` for new installations, demos and tests; an existing table is never altered. The free fifth of
    /// each page lets the bulk path's updates stay on their page (HOT) and skip the index.
    static func tableSQL(_ names: InventoryNames) -> String {
        """
        CREATE TABLE \(names.table) (
            item              varchar(40) NOT NULL,
            codigobarras      varchar(60),
            nombre            varchar(120),
            nombreweb         varchar(200),
            existencia        numeric(14,3) NOT NULL DEFAULT 0,
            costoestandar     numeric(14,4),
            costopromedio     numeric(14,4),
            costoultimacompra numeric(14,4),
            id_altek          bigint,
            imagen            varchar(500),
            bloqueado         boolean NOT NULL DEFAULT false,
            idcategoria       integer,
            observaciones     text,
            alto              numeric(10,3),
            ancho             numeric(10,3)
        ) WITH (fillfactor = 80)
        """
    }

    /// SQL for a role that may do what the workers do and nothing more.
    public func leastPrivilegeSQL(role: String = "wooqueue_sync", database: String) -> String {
        let role = InventoryNames.quote(role)
        var lines = [
            "-- Run as a superuser or the owner of \(names.table); choose a password.",
            "CREATE ROLE \(role) LOGIN PASSWORD 'change-me';",
            "GRANT CONNECT ON DATABASE \(InventoryNames.quote(database)) TO \(role);",
            "GRANT USAGE ON SCHEMA \(InventoryNames.quote(names.tableSchema)) TO \(role);",
            "GRANT SELECT, INSERT, UPDATE ON \(names.table) TO \(role);",
        ]
        if deletion == .hard {
            lines.append("GRANT DELETE ON \(names.table) TO \(role);  -- inventory.deletion is \"hard\"")
        } else {
            lines.append("-- No DELETE: inventory.deletion is \"soft\" (bloqueado = TRUE, existencia = 0).")
        }
        lines += [
            "GRANT USAGE ON SCHEMA \(names.state) TO \(role);",
            "GRANT SELECT, INSERT, UPDATE ON \(names.syncState) TO \(role);",
            "GRANT EXECUTE ON FUNCTION \(names.skuKey)(text) TO \(role);",
            "-- Then point WOOQUEUE_DATABASE_URL at it, with TLS:",
            "--   postgresql://wooqueue_sync:change-me@db.example.com:5432/\(database)?sslmode=require",
        ]
        return lines.joined(separator: "\n")
    }
}

public enum InventorySchemaError: Error, CustomStringConvertible, Sendable {
    /// Rows whose SKUs normalize alike: the unique index cannot be built until they are merged.
    case duplicateSKUs([String])
    /// The table lacks a column wooqueue needs.
    case missingColumns(table: String, [String])
    /// The table or the state schema is not there.
    case notMigrated(String)

    public var description: String {
        switch self {
        case .duplicateSKUs(let groups):
            return "inv_items holds rows whose SKUs are the same once normalized (trimmed, numeric ones zero-padded to 9, compared case-insensitively), so the unique index was not created and nothing was changed. Merge or fix these rows in the ERP, then run `wooqueue migrate` again:\n  " + groups.joined(separator: "\n  ")
        case .missingColumns(let table, let columns):
            return "\(table) has no column \(columns.joined(separator: ", ")); wooqueue needs it to find rows by SKU"
        case .notMigrated(let what):
            return "\(what) does not exist yet: run `wooqueue migrate` first"
        }
    }
}
