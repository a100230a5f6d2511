import AppConfiguration
import ArgumentParser
import CommandSupport
import Foundation
import Inventory
import QueueCore
import ServiceLifecycle
import UnixSignals
import Workers
import Logging

/// `wooqueue work`: runs worker pools until SIGTERM or SIGINT.
struct Work: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run worker pools until signalled (SIGTERM/SIGINT stop gracefully).",
        discussion: "Start more of these, on this or other hosts, to scale out: they share the queues in Redis.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Comma-separated queues to work on (default: all).", valueName: "q1,q2"))
    var queues: String?

    @Flag(name: .long, help: "Start even if Redis may evict keys (maxmemory-policy other than noeviction). Jobs can be lost.")
    var allowEviction = false

    func run() async throws {
        var configuration = try global.load()
        if allowEviction { configuration.redis.allowEviction = true }
        let names = queues.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if let names { try configuration.validateQueues(names) }
        let logger = global.logger("work")
        StartupWarnings.database(configuration.database.url, logger: logger)
        let process = try WorkerProcess(configuration: configuration, registry: try configuration.makeRegistry(logger: logger),
                                        options: .init(queues: names), logger: logger)
        try await WorkerProcessRunner.run(process, logger: logger)
    }
}

/// Runs a worker process in a service group that turns SIGTERM and SIGINT into a graceful shutdown.
enum WorkerProcessRunner {
    static func run(_ process: WorkerProcess, logger: Logger) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: process, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
