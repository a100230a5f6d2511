import QueueCore

/// The statements of ``InventoryWriter``, built for the table's actual columns. Only identifiers from the
/// configuration (checked) and `information_schema` (quoted) are spliced in; every value is a parameter.
enum InventorySQL {
    /// One batch of upserts, at most one per WooCommerce id and per normalized SKU (``InventoryWriter`` keeps the
    /// newest of each). Parameters: `$1` WooCommerce id, `$2` parent id, `$3` date_modified_gmt, `$4` normalized
    /// SKU (``SKU/key(_:)``, NULL without one), `$5`–`$7` name, image, category for the bookkeeping, then one
    /// array per column. Returns the WooCommerce ids whose state was recorded.
    static func upsert(_ table: InventoryTable) -> String {
        let names = table.names
        let columns = table.columns
        var arrays = ["$1::int8[]", "$2::int8[]", "$3::timestamp[]", "$4::text[]", "$5::text[]", "$6::text[]", "$7::int8[]"]
        arrays += columns.indices.map { "$\($0 + 8)::text[]" }
        let inputNames = ["woo_id", "parent_id", "modified", "k", "s_name", "s_image", "s_category"] + columns.map { "c_\($0.0.rawValue)" }
        let targets = columns.map { InventoryNames.quote($0.0.rawValue) }
        let values = columns.map { column, shape in "n.c_\(column.rawValue)::\(cast(shape))" }
        let updates = columns.filter { $0.0 != .item }.map { column, _ in
            let name = InventoryNames.quote(column.rawValue)
            return "\(name) = EXCLUDED.\(name)"
        }
        // Rows whose values are all unchanged are left alone: no new row version, no WAL, no index entry.
        let changed = columns.filter { $0.0 != .item }.map { column, _ in InventoryNames.quote(column.rawValue) }
        let unchanged = changed.isEmpty ? "" : "\n      WHERE (\(changed.map { "i.\($0)" }.joined(separator: ", "))) IS DISTINCT FROM (\(changed.map { "EXCLUDED.\($0)" }.joined(separator: ", ")))"
        return """
            WITH newest AS (
              SELECT * FROM unnest(\(arrays.joined(separator: ", "))) AS t(\(inputNames.joined(separator: ", ")))
            ),
            booked AS (
              INSERT INTO \(names.syncState) AS s (woo_id, sku_key, parent_id, modified_gmt, deleted, name, image, category_id, synced_at)
              SELECT woo_id, k, parent_id, modified, false, s_name, s_image, s_category, now() FROM newest
              ON CONFLICT (woo_id) DO UPDATE SET sku_key = EXCLUDED.sku_key, parent_id = EXCLUDED.parent_id,
                modified_gmt = EXCLUDED.modified_gmt, deleted = false, name = EXCLUDED.name, image = EXCLUDED.image,
                category_id = EXCLUDED.category_id, synced_at = now()
              WHERE EXCLUDED.modified_gmt > s.modified_gmt OR (EXCLUDED.modified_gmt = s.modified_gmt AND NOT s.deleted)
              RETURNING s.woo_id
            ),
            written AS (
              INSERT INTO \(names.table) AS i (\(targets.joined(separator: ", ")))
              SELECT \(values.joined(separator: ", ")) FROM newest n JOIN booked b ON b.woo_id = n.woo_id WHERE n.k IS NOT NULL
              ON CONFLICT ((\(names.skuKey)(item))) DO \(updates.isEmpty ? "NOTHING" : "UPDATE SET \(updates.joined(separator: ", "))\(unchanged)")
            )
            SELECT woo_id FROM booked
            """
    }

    /// Deletions by WooCommerce id (`$1`): marks them deleted in the bookkeeping, then blocks and zeroes (soft) or
    /// deletes (hard) the rows found by the recorded SKU or by `id_altek`. Returns the ids that had a row.
    static func delete(_ table: InventoryTable, mode: InventorySettings.DeletionMode) -> String {
        let names = table.names
        let hasAltek = table.column(.id_altek) != nil
        var match = "\(names.skuKey)(i.item) IN (SELECT sku_key FROM known WHERE sku_key IS NOT NULL)"
        if hasAltek { match += " OR i.id_altek::text IN (SELECT woo_id::text FROM ids)" }
        let altek = hasAltek ? "i.id_altek::text" : "NULL::text"
        let change: String
        switch mode {
        case .soft:
            let zero = table.column(.existencia) != nil ? ", existencia = 0" : ""
            change = "UPDATE \(names.table) AS i SET bloqueado = TRUE\(zero) WHERE \(match)"
        case .hard:
            change = "DELETE FROM \(names.table) AS i WHERE \(match)"
        }
        return """
            WITH ids AS (SELECT DISTINCT unnest($1::int8[]) AS woo_id),
            known AS (SELECT s.woo_id, s.sku_key FROM \(names.syncState) s JOIN ids ON ids.woo_id = s.woo_id),
            marked AS (
              INSERT INTO \(names.syncState) AS s (woo_id, deleted, synced_at) SELECT woo_id, TRUE, now() FROM ids
              ON CONFLICT (woo_id) DO UPDATE SET deleted = TRUE, synced_at = now()
            ),
            changed AS (
              \(change)
              RETURNING \(names.skuKey)(i.item) AS k, \(altek) AS altek
            )
            SELECT ids.woo_id FROM ids LEFT JOIN known ON known.woo_id = ids.woo_id
            WHERE EXISTS (SELECT 1 FROM changed c WHERE c.k = known.sku_key OR c.altek = ids.woo_id::text)
            """
    }

    /// Soft or hard deletion of the rows whose normalized SKU is in `$1`.
    static func removeBySKU(_ table: InventoryTable, mode: InventorySettings.DeletionMode) -> String {
        let names = table.names
        switch mode {
        case .soft:
            let zero = table.column(.existencia) != nil ? ", existencia = 0" : ""
            return "UPDATE \(names.table) SET bloqueado = TRUE\(zero) WHERE \(names.skuKey)(item) = ANY($1::text[])"
        case .hard:
            return "DELETE FROM \(names.table) WHERE \(names.skuKey)(item) = ANY($1::text[])"
        }
    }

    /// The type to cast a text value to for a column, schema-qualified and quoted (`"pg_catalog"."numeric"`).
    private static func cast(_ column: InventoryTable.Column) -> String {
        "\(InventoryNames.quote(column.typeSchema)).\(InventoryNames.quote(column.type))"
    }
}
