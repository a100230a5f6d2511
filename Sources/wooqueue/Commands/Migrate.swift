import AppConfiguration
import ArgumentParser
import CommandSupport
import Inventory
import PostgresClient

/// `wooqueue migrate`: prepares PostgreSQL for the inventory sync.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prepare PostgreSQL: wooqueue's schema, the unique index on the normalized SKU, inv_items if missing.",
        discussion: """
            Creates the schema inventory.stateSchema (default wooqueue) with the SKU function and the bookkeeping \
            table; creates inventory.table (default public.inv_items) only if it does not exist; adds a unique \
            index on the normalized SKU, unless rows already share one, which it lists and stops. It never alters \
            an existing inv_items. Then prints the SQL for a least-privilege role. The database is \
            WOOQUEUE_DATABASE_URL or database.url; libpq parameters such as sslmode=require go in the URL.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Role name in the printed least-privilege SQL.")
    var role = "wooqueue_sync"

    func run() async throws {
        let configuration = try global.load()
        let connection = PostgresConnection(url: configuration.database.url, label: "migrate")
        let schema = InventorySchema(settings: configuration.inventory)
        let report = try await schema.migrate(on: connection)
        let database = try await connection.query("SELECT current_database()").scalar ?? "wooqueue"
        await connection.close()
        let names = schema.names
        print(report.createdTable ? "Created \(names.table) (it did not exist)." : "\(names.table) exists; left as it is.")
        print(report.createdIndex ? "Created the unique index on \(names.skuKey)(item)." : "The unique index on \(names.skuKey)(item) is in place.")
        print("Schema \(names.state) is ready (sku_key function, sync_state bookkeeping). \(names.table) holds \(report.rows) rows.")
        print("")
        print("Least-privilege role for the workers (inventory.deletion is \"\(configuration.inventory.deletion.rawValue)\"):")
        print(schema.leastPrivilegeSQL(role: role, database: database))
    }
}
