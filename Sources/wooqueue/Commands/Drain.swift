import AppConfiguration
import ArgumentParser
import CommandSupport
import QueueCore
import Workers

/// `wooqueue drain`: "process queue now".
struct Drain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Process every queue until nothing is ready, delayed or active, then exit.",
        discussion: "Delayed jobs and retries waiting for their backoff are released at once. Jobs that fail again are retried with their normal backoff, so drain waits for them too.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let configuration = try global.load()
        let logger = global.logger("drain")
        let store = try configuration.makeStore()
        let before = try await store.snapshot(queues: configuration.queues)
        print("before:")
        StatusPrinter.printCounts(before)
        let process = try WorkerProcess(configuration: configuration, registry: try configuration.makeRegistry(logger: logger),
                                        options: .init(exitWhenIdle: true), logger: logger)
        try await WorkerProcessRunner.run(process, logger: logger)
        let after = try await store.snapshot(queues: configuration.queues)
        print("after:")
        StatusPrinter.printCounts(after)
    }
}
