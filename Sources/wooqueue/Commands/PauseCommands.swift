import AppConfiguration
import ArgumentParser
import CommandSupport
import QueueCore

/// What `pause` and `resume` act on: a whole queue, or one job type (on its queue).
struct PauseTarget: ParsableArguments {
    @Option(name: .long, help: "A queue: none of its jobs starts.")
    var queue: String?

    @Option(name: .long, help: "A job type: none of its jobs starts; the rest of its queue runs on.")
    var type: String?

    func validate() throws {
        guard (queue == nil) != (type == nil) else { throw ValidationError("name either --queue or --type") }
    }

    /// The queue the target lives on, the type (nil for a whole queue), and how to name it in messages.
    func resolve(_ configuration: WooqueueConfiguration) throws -> (queue: String, type: String?, name: String) {
        if let type {
            guard let settings = configuration.jobTypes[type] else {
                throw ValidationError("unknown job type \"\(type)\"; configured types: \(configuration.jobTypes.keys.sorted().joined(separator: ", "))")
            }
            return (settings.queue, type, "job type \(type) (queue \(settings.queue))")
        }
        let name = queue ?? ""
        guard configuration.queues.contains(where: { $0.name == name }) else {
            throw ValidationError("unknown queue \"\(name)\"; configured queues: \(configuration.queues.map(\.name).joined(separator: ", "))")
        }
        return (name, nil, "queue \(name)")
    }

    var again: String { queue.map { "--queue \($0)" } ?? "--type \(type ?? "")" }
}

/// `wooqueue pause`: stop starting a queue's or a type's jobs, across every process, keeping them.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop starting the jobs of a queue or a job type, on every worker process, until resumed.",
        discussion: "Jobs already running finish; every process stops starting new ones within a second. Paused jobs are kept in Redis, not run and not failed. Use it during a dependency's maintenance (the ERP's, say).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: PauseTarget

    @Option(name: .customLong("for"), help: ArgumentHelp("Resume by itself after this long (\"30m\", \"2h\").", valueName: "duration"))
    var duration: String?

    func run() async throws {
        let configuration = try global.load()
        let (queue, type, name) = try target.resolve(configuration)
        var until: Int64?
        if let duration {
            guard let parsed = DurationText.parse(duration), parsed >= .seconds(1) else {
                throw ValidationError("--for must be a duration of at least 1s, such as \"30m\" or \"2h\"; got \"\(duration)\"")
            }
            until = WallClock.nowMillis() + parsed.milliseconds
        }
        let store = try configuration.makeStore()
        try await store.pause(queue: queue, type: type, until: until)
        let how = duration.map { "for \($0)" } ?? "until resumed"
        print("Paused \(name) \(how). Running jobs finish; no worker starts another within a second. Resume with: wooqueue resume \(target.again)")
    }
}

/// `wooqueue resume`: end a pause; what waited starts at once.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Start the jobs of a paused queue or job type again.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: PauseTarget

    func run() async throws {
        let configuration = try global.load()
        let (queue, type, name) = try target.resolve(configuration)
        let store = try configuration.makeStore()
        let resumed = try await store.resume(queue: queue, type: type, limits: configuration.queueConfiguration.limitedTypes.mapValues(\.flow),
                                             reserveMillis: configuration.workers.processTimeout.milliseconds)
        if resumed.wasPaused {
            print("Resumed \(name): \(resumed.moved) waiting job(s) went back to the queue.")
        } else {
            print("\(name.prefix(1).uppercased())\(name.dropFirst()) was not paused; nothing to do.")
        }
    }
}
