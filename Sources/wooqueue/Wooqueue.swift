import ArgumentParser

/// The `wooqueue` executable: command-line parsing and wiring only.
@main
struct Wooqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wooqueue",
        abstract: "Background jobs for a WooCommerce store, on Redis queues with reliable workers.",
        subcommands: [Work.self, Enqueue.self, Status.self, DeadLetterCommand.self, Drain.self, Bench.self])
}
