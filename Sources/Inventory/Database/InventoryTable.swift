public import PostgresClient

/// The shape of the ERP's `inv_items` as found in `information_schema`: which mapped columns exist, their types
/// and the length limits of text columns. Read once per connection; the table is never altered.
public struct InventoryTable: Sendable {
    public struct Column: Sendable, Equatable {
        /// PostgreSQL's type name (`varchar`, `numeric`, `int4`, …) and its schema, used to cast the text values.
        public var type: String
        public var typeSchema: String
        /// Characters allowed, for `varchar(n)` / `char(n)`.
        public var maxLength: Int?
    }

    public let names: InventoryNames
    /// The mapped columns the table has, in mapping order.
    public let columns: [(InventoryColumn, Column)]

    public init(names: InventoryNames, columns: [(InventoryColumn, Column)]) {
        self.names = names
        self.columns = columns
    }

    public func column(_ column: InventoryColumn) -> Column? {
        columns.first { $0.0 == column }?.1
    }

    /// Reads the table's columns; throws when the table, the state schema or a required column is missing.
    public static func load(_ session: PostgresSession, names: InventoryNames) throws -> InventoryTable {
        let found = try session.query("""
            SELECT column_name, udt_name, character_maximum_length, udt_schema FROM information_schema.columns
            WHERE table_schema = $1 AND table_name = $2
            """, [names.tableSchema, names.tableName])
        if found.rows.isEmpty { throw InventorySchemaError.notMigrated("table \(names.table)") }
        if try session.query("SELECT to_regclass($1) IS NOT NULL", [names.syncState]).scalar != "t" {
            throw InventorySchemaError.notMigrated("\(names.syncState)")
        }
        var byName: [String: Column] = [:]
        for row in found.rows {
            guard let name = row[0], let type = row[1], let typeSchema = row[3] else { continue }
            byName[name] = Column(type: type, typeSchema: typeSchema, maxLength: row[2].flatMap { Int($0) })
        }
        let missing = InventoryColumn.required.filter { byName[$0.rawValue] == nil }
        if !missing.isEmpty { throw InventorySchemaError.missingColumns(table: names.table, missing.map(\.rawValue)) }
        return InventoryTable(names: names, columns: InventoryColumn.allCases.compactMap { column in byName[column.rawValue].map { (column, $0) } })
    }
}
