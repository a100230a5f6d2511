import ArgumentParser
import AppConfiguration
import CommandSupport
import Foundation
import Inventory
import PostgresClient
import QueueCore

/// A benchmark's own keys and inventory table: keys under `wqbench-<name>-<pid>` in Redis, and the schemas
/// `wqbench_<name>_<pid>` (the table) and `wqbench_<name>_<pid>_state` (its bookkeeping) in PostgreSQL, all removed
/// when the benchmark ends, whether it succeeded or not.
struct BenchScratch {
    let store: QueueStore
    let database: PostgresConnection
    let schema: InventorySchema

    /// Points `configuration`'s key prefix and inventory table at the scratch ones of benchmark `name`.
    static func isolate(_ configuration: inout WooqueueConfiguration, name: String) {
        let suffix = "\(name)_\(getpid())"
        configuration.redis.keyPrefix = "wqbench-\(name)-\(getpid())"
        configuration.inventory.table = "wqbench_\(suffix).inv_items"
        configuration.inventory.stateSchema = "wqbench_\(suffix)_state"
    }

    /// Runs `body` with the scratch store, database and schema of an ``isolate(_:name:)``d configuration, then
    /// removes them.
    static func with<Result>(_ configuration: WooqueueConfiguration, _ body: (BenchScratch) async throws -> Result) async throws -> Result {
        let scratch = BenchScratch(store: try configuration.makeStore(label: "bench"),
                                   database: PostgresConnection(url: configuration.database.url, label: "bench"),
                                   schema: InventorySchema(settings: configuration.inventory))
        do {
            let result = try await body(scratch)
            try await scratch.remove()
            return result
        } catch {
            try? await scratch.remove()
            throw error
        }
    }

    private func remove() async throws {
        _ = try await store.deleteAllKeys()
        _ = try await database.withSession { session in
            try session.execute("SET client_min_messages = warning; DROP SCHEMA IF EXISTS \(InventoryNames.quote(schema.names.tableSchema)) CASCADE; DROP SCHEMA IF EXISTS \(schema.names.state) CASCADE")
        }
    }
}
