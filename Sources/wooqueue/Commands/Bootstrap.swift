import AppConfiguration
import ArgumentParser
import CommandSupport
import Dispatcher
import StoreSync
import Foundation
import Inventory
import PostgresClient
import WooCommerceAPI

/// `wooqueue bootstrap`: compare the store's SKUs with inv_items and enqueue what is missing.
struct BootstrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Compare the store's catalogue with inv_items and enqueue upserts for the missing SKUs.",
        discussion: """
            Pages through the store's products (and the variations of variable ones) with the REST API, compares \
            normalized SKUs with the table and enqueues inventory.upsert jobs for the missing ones (--all: for \
            every product). Rows whose SKU the store no longer has are counted as orphans and left alone unless \
            --delete-orphans (then the deletion mode applies). Interrupted, it resumes at the page it was at.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Jobs per enqueue round trip.")
    var batch: Int = 500

    @Flag(name: .long, help: "Enqueue every product, not only the missing ones.")
    var all = false

    @Flag(name: .long, help: "Apply inventory.deletion to rows whose SKU the store no longer has.")
    var deleteOrphans = false

    @Flag(name: .long, help: "Forget an unfinished run and start at page 1.")
    var restart = false

    @Option(name: .long, help: ArgumentHelp("Pages of products asked for at once, within the store's REST budget (default: woocommerce.pagesInFlight).", valueName: "1-16"))
    var pagesInFlight: Int?

    @Flag(name: .long, help: "Print the report as one JSON object.")
    var json = false

    mutating func validate() throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 10000") }
        if let pagesInFlight, !(1...16).contains(pagesInFlight) { throw ValidationError("--pages-in-flight must be between 1 and 16, got \(pagesInFlight)") }
    }

    func run() async throws {
        let configuration = try global.load()
        let logger = global.logger("bootstrap")
        let client = try configuration.makeStoreClient(logger: logger)
        let writer = InventoryWriter(connection: PostgresConnection(url: configuration.database.url, label: "bootstrap"),
                                     settings: configuration.inventory)
        let bootstrap = Bootstrap(client: client, store: try configuration.makeStore(label: "bootstrap"), writer: writer, routing: configuration.routing)
        let progress = ProgressLines()
        let report = try await bootstrap.run(.init(batch: batch, all: all, deleteOrphans: deleteOrphans, restart: restart, pagesInFlight: pagesInFlight)) {
            progress.say($0)
        }
        if json {
            print(try StatusPrinter.json(report))
            return
        }
        print("""
            store products:      \(report.storeProducts) (X-WP-Total; \(report.storeItems) products and variations read)
            table rows:          \(report.tableRows)
            missing:             \(report.missing)
            enqueued:            \(report.enqueued) products and variations in \(report.jobs) jobs\(all ? " (--all)" : "")
            skipped, no SKU:     \(report.skippedNoSKU)
            orphans:             \(report.orphans)\(deleteOrphans ? " (\(report.orphansRemoved) removed, inventory.deletion \(configuration.inventory.deletion.rawValue))" : " (left alone; --delete-orphans to remove)")
            """)
    }
}

/// `wooqueue reconcile`: route what changed in the store since the last sweep.
/// `reconcile --deletions --json`: the sweep and the deletions.
struct ReconcileOutput: Encodable {
    let sweep: Reconciler.Report
    let deletions: Bootstrap.Report
}

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Route the products modified since the last sweep, catching deliveries WooCommerce failed to make.",
        discussion: "serve runs this every woocommerce.reconcileInterval. --since takes a GMT time such as 2026-11-01T00:00:00.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Products modified after this GMT time (default: the last sweep).", valueName: "YYYY-MM-DDTHH:MM:SS"))
    var since: String?

    @Flag(name: .long, help: ArgumentHelp(
        "Also find inv_items rows whose product the store no longer has (a permanent delete sends no webhook) and apply inventory.deletion.",
        discussion: "Pages through the whole catalogue, as bootstrap --delete-orphans does; missing products are enqueued too."))
    var deletions = false

    @Flag(name: .long, help: "Print the report as one JSON object.")
    var json = false

    mutating func validate() throws {
        if let since, since.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"#, options: .regularExpression) == nil {
            throw ValidationError("--since must be a GMT time such as 2026-11-01T00:00:00, got \"\(since)\"")
        }
    }

    func run() async throws {
        let configuration = try global.load()
        let logger = global.logger("reconcile")
        let client = try configuration.makeStoreClient(logger: logger)
        let reconciler = Reconciler(client: client, store: try configuration.makeStore(label: "reconcile"), routing: configuration.routing,
                                        orderRetention: configuration.webhooks.deliveryRetention)
        let progress = ProgressLines()
        let report = try await reconciler.run(since: since) { progress.say($0) }
        var deletedReport: Bootstrap.Report?
        if deletions {
            let writer = InventoryWriter(connection: PostgresConnection(url: configuration.database.url, label: "deletion-sweep"),
                                         settings: configuration.inventory)
            let sweep = Bootstrap(client: client, store: try configuration.makeStore(label: "deletion-sweep"), writer: writer,
                                  routing: configuration.routing, task: "deletion-sweep")
            deletedReport = try await sweep.run(.init(deleteOrphans: true)) { progress.say("deletions: \($0)") }
        }
        if json {
            // The sweep's report as before; with --deletions, both under names of their own.
            print(try deletedReport.map { try StatusPrinter.json(ReconcileOutput(sweep: report, deletions: $0)) } ?? StatusPrinter.json(report))
        } else {
            print("modified since \(report.since) (GMT): \(report.changed) products and variations, \(report.enqueued) jobs enqueued")
            if let deleted = deletedReport {
                print("deletions: \(deleted.orphans) inv_items rows the store no longer has, \(deleted.orphansRemoved) removed (inventory.deletion)")
            }
            if let orders = report.orders {
                print("created since \(orders.since) (GMT): \(orders.listed) orders (processing, on-hold, completed), \(orders.routed) routed, \(orders.alreadyRouted) routed before\(orders.unroutable > 0 ? ", \(orders.unroutable) unroutable" : "")")
            }
        }
    }
}
