import AppConfiguration
import ArgumentParser
import CommandSupport
import Operations
import Foundation
import Parsing
import QueueCore
import Routing

/// `wooqueue dlq …`: review dead-lettered jobs by hand.
struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Review dead-lettered jobs: list, show, retry, purge.",
        subcommands: [List.self, Show.self, Retry.self, Purge.self])

    /// Which dead letters a subcommand works on.
    struct Selection: ParsableArguments {
        @Option(name: .long, help: "Only this queue (default: all).")
        var queue: String?

        @Option(name: .long, help: "Only jobs of this type.")
        var type: String?

        @Option(name: .long, help: "Only the job with this id.")
        var id: String?

        @Option(name: .long, help: "Only jobs whose key (SKU, order number) contains this, ignoring case.")
        var key: String?

        @Option(name: .long, help: "Only jobs whose last error contains this, ignoring case.")
        var error: String?

        @Flag(name: .long, help: "Every job the other filters match (retry and purge need --id or --all).")
        var all = false

        func letters(_ configuration: WooqueueConfiguration, store: QueueStore) async throws -> [DeadLetter] {
            let queues = try queue.map { name -> [String] in
                if name != KeptDelivery.queue { try configuration.validateQueues([name]) }
                return [name]
            } ?? DeadLetterReview.queues(configuration)
            return try await store.deadLetters(queues: queues, matching: DeadLetterFilter(type: type, id: id, key: key, error: error))
        }

        func requireTarget(_ verb: String) throws {
            guard id != nil || all else {
                throw ValidationError("\(verb) needs --id ID, or --all (with --queue/--type to narrow it) to act on every match")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead-lettered jobs, newest first.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var selection: Selection
        @Flag(name: .long, help: "Print JSON lines, one envelope per line.")
        var json = false

        func run() async throws {
            let configuration = try global.load()
            let letters = try await selection.letters(configuration, store: try configuration.makeStore())
            if json {
                for letter in letters { print(String(decoding: letter.jsonLine, as: UTF8.self)) }
                return
            }
            guard !letters.isEmpty else { print("no dead-lettered jobs"); return }
            let formatter = ISO8601DateFormatter()
            StatusPrinter.printTable(["id", "queue", "type", "key", "attempts", "dead at", "last error"], letters.map { letter in
                guard let e = letter.envelope else {
                    return ["?", letter.queue, "?", "-", "-", "-", "unreadable entry: \(String(decoding: letter.raw.prefix(60), as: UTF8.self))"]
                }
                return [e.id, letter.queue, e.type, e.key ?? "-", "\(e.attempt)/\(e.maxAttempts)",
                        e.deadAt.map { formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) } ?? "-",
                        String((e.lastError ?? "").prefix(80))]
            })
            print("\n\(letters.count) dead-lettered job(s). Show one with: wooqueue dlq show --id ID")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a dead-lettered job in full: payload and error history.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var selection: Selection

        func run() async throws {
            try selection.requireTarget("show")
            let configuration = try global.load()
            let letters = try await selection.letters(configuration, store: try configuration.makeStore())
            guard !letters.isEmpty else { throw ValidationError("no dead-lettered job matches") }
            let formatter = ISO8601DateFormatter()
            func time(_ ms: Int64?) -> String { ms.map { formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) } ?? "-" }
            for letter in letters {
                guard let e = letter.envelope else {
                    print(TerminalText.escaped("unreadable entry in \(letter.queue): \(String(decoding: letter.raw, as: UTF8.self))") + "\n")
                    continue
                }
                // Each value escaped on its own: the layout's new lines stay, a value's control characters show.
                let show = TerminalText.escaped
                print("""
                    id:            \(show(e.id))
                    queue:         \(show(e.queue))
                    type:          \(show(e.type))
                    key:           \(show(e.key ?? "-"))
                    source:        \(show(e.source ?? "-"))
                    attempts:      \(e.attempt) of \(e.maxAttempts)\(e.recoveries > 0 ? ", recovered \(e.recoveries) time(s)" : "")
                    enqueued at:   \(time(e.enqueuedAt))
                    first failure: \(time(e.firstFailedAt))  \(show(e.firstError ?? "-"))
                    last failure:  \(time(e.lastFailedAt))  \(show(e.lastError ?? "-"))
                    dead at:       \(time(e.deadAt))
                    payload:       \(show(e.payloadText))

                    """)
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send dead-lettered jobs back to their queue with fresh attempts.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var selection: Selection

        func run() async throws {
            try selection.requireTarget("retry")
            let configuration = try global.load()
            let store = try configuration.makeStore()
            let letters = try await selection.letters(configuration, store: store).filter { $0.envelope != nil }
            // Jobs go back to their queues; deliveries kept for review are routed again (after a route was added,
            // say), and those that still cannot be routed stay.
            let outcome = try await DeadLetterReview(configuration: configuration, store: store).retry(letters)
            for reason in outcome.stillUnroutable { print("still cannot be routed: \(TerminalText.escaped(reason))") }
            print(outcome.summary)
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead-lettered jobs for good.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var selection: Selection

        func run() async throws {
            try selection.requireTarget("purge")
            let configuration = try global.load()
            let store = try configuration.makeStore()
            let deleted = try await store.deleteDeadLetters(try await selection.letters(configuration, store: store))
            print("deleted \(deleted) dead-lettered job(s)")
        }
    }
}
