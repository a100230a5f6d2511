public import AppConfiguration
public import ArgumentParser
import Foundation
import StoreSync
public import Inventory
public import Logging
public import QueueCore
import RedisClient
public import WooCommerceAPI
public import Workers
import Synchronization

/// Options every command takes.
public struct GlobalOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: ArgumentHelp("Configuration file.", discussion: "Without it: the file named in WOOQUEUE_CONFIG, else ./config.json if present, else built-in defaults.", valueName: "path"))
    public var config: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    public var logLevel: String = ProcessInfo.processInfo.environment["WOOQUEUE_LOG_LEVEL"] ?? "info"

    /// Loads the configuration and sets up logging to standard error.
    public func load() throws -> WooqueueConfiguration {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got \(logLevel)")
        }
        LoggingBootstrap.once(level: level)
        let path = config ?? ProcessInfo.processInfo.environment["WOOQUEUE_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: "config.json") ? "config.json" : nil)
        return try WooqueueConfiguration.load(path: path)
    }

    public func logger(_ label: String) -> Logger { Logger(label: "wooqueue.\(label)") }
}

/// Installs the stderr log handler once per process.
public enum LoggingBootstrap {
    private static let bootstrapped = Atomic<Bool>(false)

    public static func once(level: Logger.Level) {
        guard !bootstrapped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension WooqueueConfiguration {
    /// A store on a new connection, for commands.
    public func makeStore(label: String = "cli") throws -> QueueStore {
        QueueStore(connection: RedisConnection(configuration: try RedisConfiguration(url: redis.url), label: label),
                   prefix: redis.keyPrefix, statusRetention: workers.statusRetention, eventsKept: workers.eventsKept,
                   replicationWait: redis.replicationWait)
    }

    /// The handler of every configured job type. The handler kinds are registered here, one line each: the
    /// built-in ones (noop, http, exec), then inventory and stock_sync.
    public func makeRegistry(logger: Logger) throws -> HandlerRegistry {
        var kinds = HandlerKinds.builtIn
        try kinds.registerInventory(configuration: self, source: try makeProductSource(),
                                    counters: try makeStore(label: "inventory-totals"), logger: logger)
        return try kinds.registry(for: jobTypes)
    }

    /// The store's REST API, when `woocommerce.url` is set.
    public func makeProductSource() throws -> (any ProductSource)? {
        guard !woocommerce.url.isEmpty else { return nil }
        return try makeStoreClient(logger: Logger(label: "wooqueue.woocommerce"))
    }

    /// A client of the store's REST API (`settings`: the everyday keys by default, or the managing ones) whose
    /// requests wait for the store's REST budget, shared through Redis with every other process.
    public func makeStoreClient(_ settings: WooCommerceSettings? = nil, logger: Logger) throws -> WooCommerceClient {
        let settings = settings ?? woocommerce
        return try WooCommerceClient(settings: settings, budget: StoreRequestBudget(settings: settings, store: try makeStore(label: "store-budget")),
                                     logger: logger)
    }

    /// Checks `--queue` values against the configuration.
    public func validateQueues(_ names: [String]) throws {
        for name in names where queue(named: name) == nil {
            throw ValidationError("unknown queue \"\(name)\"; configured queues: \(queues.map(\.name).joined(separator: ", "))")
        }
    }
}
