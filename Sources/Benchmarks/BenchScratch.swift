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

    /// Waits, up to 5 minutes, while Redis writes a snapshot or rewrites its AOF (after a large enqueue, say), so a
    /// timed phase does not share the cores with that child process; says so when it waits.
    static func waitWhilePersisting(_ store: QueueStore, progress: ProgressLines) async throws {
        let deadline = ContinuousClock.now + .seconds(300)
        var said = false
        while try await store.isPersisting() {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("Redis has been writing a snapshot or rewriting its AOF for 5 minutes; run the benchmark when it has finished")
            }
            if !said { progress.say("waiting for Redis to finish rewriting its AOF (or writing a snapshot)…") }
            said = true
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func remove() async throws {
        _ = try await store.deleteAllKeys()
        _ = try await database.withSession { session in
            try session.execute("SET client_min_messages = warning; DROP SCHEMA IF EXISTS \(InventoryNames.quote(schema.names.tableSchema)) CASCADE; DROP SCHEMA IF EXISTS \(schema.names.state) CASCADE")
        }
    }
}
