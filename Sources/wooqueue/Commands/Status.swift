import AppConfiguration
import ArgumentParser
import CommandSupport
import Foundation
import Inventory
import QueueCore

/// `wooqueue status`: queue counts, live processes, latest events.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show per-queue counts, live worker processes and the latest events.",
        discussion: "--json prints the shape documented in README.md (\"status --json\").")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    @Option(name: .long, help: "Show the status of one job (pending, processing, retry, done, failed).")
    var id: String?

    func run() async throws {
        let configuration = try global.load()
        let store = try configuration.makeStore()
        if let id {
            let found = try await store.jobStatus(id: id, queues: configuration.queues.map(\.name))
            if json {
                let report = JobStatusReport(id: id, queue: found?.queue, status: found?.status ?? "unknown")
                print(try StatusPrinter.json(report))
            } else if let found {
                print(TerminalText.escaped("\(id): \(found.status) (queue \(found.queue))"))
            } else {
                print("\(id): unknown (never enqueued here, or its status expired after \(DurationText.format(configuration.workers.statusRetention)))")
            }
            return
        }
        let snapshot = try await store.snapshot(queues: configuration.queues, jobTypes: configuration.jobTypes)
        let inventory = try await store.counts(scope: "inventory")
        if json {
            print(try StatusPrinter.json(StatusReport(snapshot, inventory: inventory)))
        } else {
            StatusPrinter.printCounts(snapshot)
            StatusPrinter.printFlow(snapshot)
            if !inventory.isEmpty {
                let totals = InventoryHandler.Count.allCases.map { "\($0.rawValue.replacingOccurrences(of: "_", with: " ")) \(inventory[$0.rawValue] ?? 0)" }
                print("\ninventory totals: \(totals.joined(separator: ", "))")
            }
            StatusPrinter.printProcesses(snapshot)
            StatusPrinter.printEvents(snapshot)
        }
    }
}

struct JobStatusReport: Encodable {
    let id: String
    let queue: String?
    let status: String
}

/// The stable shape of `status --json`.
struct StatusReport: Encodable {
    struct Queue: Encodable {
        let name: String
        let ready, active, delayed, dead: Int
        let enqueued, done, retried, failed, recovered: Int
        let oldestReadyAgeMs: Int64?
        let maxDelayMs: Int64
        let late: Bool
        /// Paused as a whole: until when (ms), 0 until resumed; absent when not paused.
        let pausedUntil: Int64?
        /// Jobs waiting in flow control (for a slot, a token, a hold, a cool-down or a resume), and those a pause keeps.
        let waitingInFlow, keptByPause: Int
    }

    /// A job type that is limited, paused, held, has a circuit not closed, or has jobs waiting in flow control.
    struct FlowType: Encodable {
        let type, queue: String
        let concurrency: Int?
        let concurrencyKey: String?
        let rateLimit: String?
        let burst: Int?
        let rateLimitKey: String?
        let running, waiting, throttled: Int
        let circuit: String
        let failures: Int
        let heldUntil, openUntil, pausedUntil: Int64?
    }

    struct Process: Encodable {
        let id, host: String
        let pid: Int
        let queues: [String]
        let startedAt, heartbeatAt: Int64
        let alive: Bool
    }

    struct Event: Encodable {
        let at: Int64
        let id, type, queue: String
        let key: String?
        let event, status: String
        let attempt: Int
        let error: String?
    }

    let takenAt: Int64
    let queues: [Queue]
    let processes: [Process]
    let events: [Event]
    let flow: [FlowType]
    /// Running totals of the inventory handler (`written`, `skipped_older`, `skipped_no_sku`, `truncated`,
    /// `rejected`, `deleted`, `delete_not_found`), over all processes.
    let inventory: [String: Int]

    init(_ snapshot: QueueSnapshot, inventory: [String: Int]) {
        takenAt = snapshot.takenAt
        self.inventory = Dictionary(uniqueKeysWithValues: InventoryHandler.Count.allCases.map { ($0.rawValue, inventory[$0.rawValue] ?? 0) })
        queues = snapshot.queues.map {
            Queue(name: $0.name, ready: $0.ready, active: $0.active, delayed: $0.delayed, dead: $0.dead, enqueued: $0.enqueued,
                  done: $0.done, retried: $0.retried, failed: $0.failed, recovered: $0.recovered,
                  oldestReadyAgeMs: $0.oldestReadyAgeMillis, maxDelayMs: $0.maxDelayMillis, late: $0.isLate,
                  pausedUntil: $0.flow.pausedUntil, waitingInFlow: $0.waitingInFlow, keptByPause: $0.paused)
        }
        flow = snapshot.queues.flatMap(\.flow.types).map {
            FlowType(type: $0.type, queue: $0.queue, concurrency: $0.limits.concurrency, concurrencyKey: $0.limits.concurrencyKey?.text,
                     rateLimit: $0.limits.rate?.text, burst: $0.limits.rate?.burst, rateLimitKey: $0.limits.rateLimitKey?.text,
                     running: $0.running, waiting: $0.waiting, throttled: $0.throttled, circuit: $0.circuit, failures: $0.failures,
                     heldUntil: $0.heldUntil, openUntil: $0.openUntil, pausedUntil: $0.pausedUntil)
        }
        processes = snapshot.processes.map {
            Process(id: $0.record.id, host: $0.record.host, pid: $0.record.pid, queues: $0.record.queues,
                    startedAt: $0.record.startedAt, heartbeatAt: $0.record.heartbeatAt, alive: $0.alive)
        }
        events = snapshot.events.map {
            Event(at: $0.at, id: $0.id, type: $0.type, queue: $0.queue, key: $0.key, event: $0.event, status: $0.status,
                  attempt: $0.attempt, error: $0.error)
        }
    }
}

/// Human-readable tables for `status`, `drain` and `bench`.
enum StatusPrinter {
    static func json(_ value: some Encodable) throws -> String {
        try JSONOutput.text(value)
    }

    static func printCounts(_ snapshot: QueueSnapshot) {
        let header = ["queue", "ready", "active", "delayed", "dead", "done", "failed", "retried", "recovered", "oldest ready"]
        let rows = snapshot.queues.map { q in
            [q.name, "\(q.ready)", "\(q.active)", "\(q.delayed)", "\(q.dead)", "\(q.done)", "\(q.failed)", "\(q.retried)", "\(q.recovered)",
             q.flow.pausedUntil.map { "paused \(until($0, now: q.flow.now))" }
                ?? q.oldestReadyAgeMillis.map { age in "\(formatAge(age))\(q.isLate ? " LATE (max \(formatAge(q.maxDelayMillis)))" : "")" } ?? "-"]
        }
        printTable(header, rows)
    }

    /// The job types flow control limits or holds: running against the limit, waiting, circuit, pause.
    static func printFlow(_ snapshot: QueueSnapshot) {
        let types = snapshot.queues.flatMap(\.flow.types)
        guard !types.isEmpty else { return }
        print("\nflow control:")
        printTable(["type", "queue", "limit", "running", "waiting", "throttled", "circuit", "state"], types.map { t in
            let now = snapshot.queues.first { $0.name == t.queue }?.flow.now ?? snapshot.takenAt
            return [t.type, t.queue, t.limits.summary ?? "-", "\(t.running)", "\(t.waiting)", "\(t.throttled)",
                    t.circuit, t.stateSummary(now: now, duration: formatAge)]
        })
    }

    /// "until resumed", or "for 12m" from `now`.
    static func until(_ millis: Int64, now: Int64) -> String {
        millis == 0 ? "until resumed" : "for \(formatAge(max(0, millis - now)))"
    }

    static func printProcesses(_ snapshot: QueueSnapshot) {
        let live = snapshot.processes.filter(\.alive)
        print("\nworker processes: \(live.count) live\(snapshot.processes.count > live.count ? ", \(snapshot.processes.count - live.count) dead awaiting recovery" : "")")
        guard !snapshot.processes.isEmpty else { return }
        printTable(["process", "host", "pid", "queues", "last heartbeat", "state"], snapshot.processes.map { p in
            [p.record.id, p.record.host, "\(p.record.pid)", p.record.queues.joined(separator: ","),
             "\(formatAge(snapshot.takenAt - p.record.heartbeatAt)) ago", p.alive ? "alive" : "dead"]
        })
    }

    static func printEvents(_ snapshot: QueueSnapshot) {
        print("\nlatest events:")
        guard !snapshot.events.isEmpty else { print("  (none)"); return }
        let formatter = ISO8601DateFormatter()
        printTable(["time", "queue", "type", "key", "event", "status", "attempts", "error"], snapshot.events.map { e in
            [formatter.string(from: Date(timeIntervalSince1970: Double(e.at) / 1000)), e.queue, e.type, e.key ?? "-", e.event, e.status,
             "\(e.attempt)", e.error.map { String($0.prefix(70)) } ?? ""]
        })
    }

    static func formatAge(_ millis: Int64) -> String {
        if millis < 1000 { return "\(millis)ms" }
        if millis < 120_000 { return String(format: "%.1fs", Double(millis) / 1000) }
        if millis < 7_200_000 { return "\(millis / 60_000)m" }
        return "\(millis / 3_600_000)h"
    }

    /// Prints a table; cells come from Redis, so their control characters are shown, not sent.
    static func printTable(_ header: [String], _ rows: [[String]]) {
        let rows = rows.map { $0.map(TerminalText.escaped) }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }
}
