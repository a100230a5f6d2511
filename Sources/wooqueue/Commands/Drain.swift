import AppConfiguration
import ArgumentParser
import CommandSupport
import QueueCore
import Workers

/// `wooqueue drain`: "process queue now".
struct Drain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Process every queue until nothing is ready, delayed or active, then exit.",
        discussion: "Delayed jobs and retries waiting for their backoff are released at once. Jobs that fail again are retried with their normal backoff, so drain waits for them too, and for jobs that wait for a concurrency slot or a rate limit's token. Paused queues and job types are skipped: their jobs are kept, and drain says how many it left.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let configuration = try global.load()
        let logger = global.logger("drain")
        let store = try configuration.makeStore()
        let before = try await store.snapshot(queues: configuration.queues, jobTypes: configuration.jobTypes)
        print("before:")
        StatusPrinter.printCounts(before)
        let process = try WorkerProcess(configuration: configuration, registry: try configuration.makeRegistry(logger: logger),
                                        options: .init(exitWhenIdle: true), logger: logger)
        try await WorkerProcessRunner.run(process, logger: logger)
        let after = try await store.snapshot(queues: configuration.queues, jobTypes: configuration.jobTypes)
        print("after:")
        StatusPrinter.printCounts(after)
        StatusPrinter.printFlow(after)
        let kept = after.queues.filter { $0.paused > 0 }
        if !kept.isEmpty {
            let list = kept.map { "\($0.paused) on \($0.name)" }.joined(separator: ", ")
            print("\nleft \(kept.reduce(0) { $0 + $1.paused }) job(s) that a pause keeps (\(list)); `wooqueue resume` starts them")
        }
    }
}
