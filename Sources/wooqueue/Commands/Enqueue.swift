import AppConfiguration
import ArgumentParser
import CommandSupport
import Foundation
import Parsing
import QueueCore
import Routing

/// `wooqueue enqueue`: puts jobs on a queue from the command line.
struct Enqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enqueue a job (or N copies of it), or route a WooCommerce resource like a webhook delivery.",
        discussion: """
            --type T enqueues one job of type T. --topic T routes the payload as a delivery of topic T would be \
            routed (routes in config.json): `enqueue --topic product.updated --payload @product.json`.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Job type, as configured under jobTypes (noop is built in).")
    var type: String?

    @Option(name: .long, help: "Route the payload as a delivery of this WooCommerce topic (e.g. product.updated).")
    var topic: String?

    @Option(name: .long, help: "Queue (default: the type's queue).")
    var queue: String?

    @Option(name: .long, help: ArgumentHelp("Run after this long, e.g. 500ms, 60s, 5m, 1h.", valueName: "duration"))
    var delay: String?

    @Option(name: .long, help: "What the job is about (SKU, order id), shown in events and searchable in the dead-letter list.")
    var key: String?

    @Option(name: .long, help: "Enqueue this many copies (for tests and demos).")
    var count: Int = 1

    @Option(name: .long, help: ArgumentHelp("The payload: a JSON object, or @file to read one.", valueName: "json|@file"))
    var payload: String = "{}"

    mutating func validate() throws {
        guard (type == nil) != (topic == nil) else { throw ValidationError("give either --type or --topic") }
        guard count >= 1 else { throw ValidationError("--count must be ≥ 1, got \(count)") }
        if let delay, DurationText.parse(delay) == nil {
            throw ValidationError("--delay must be a duration such as 500ms, 60s, 5m or 1h; got \(delay)")
        }
    }

    func run() async throws {
        let configuration = try global.load()
        if let topic { return try await route(topic: topic, configuration) }
        let type = type ?? ""
        guard let typeSettings = configuration.jobTypes[type] else {
            throw ValidationError("unknown job type \"\(type)\"; configured types: \(configuration.jobTypes.keys.sorted().joined(separator: ", "))")
        }
        let queueName = queue ?? typeSettings.queue
        try configuration.validateQueues([queueName])
        let body = try readPayload()
        let store = try configuration.makeStore()
        let now = WallClock.nowMillis()
        let runAt = delay.flatMap(DurationText.parse).map { now + $0.milliseconds }
        let maxAttempts = configuration.maxAttempts(type: type, queue: queueName)

        var ids: [String] = []
        var remaining = count
        let chunk = 10_000
        while remaining > 0 {
            let n = min(chunk, remaining)
            let jobs = (0..<n).map { _ in
                JobEnvelope(type: type, queue: queueName, payload: body, maxAttempts: maxAttempts, enqueuedAt: now,
                            runAt: runAt, key: key, source: "cli")
            }
            try await store.enqueue(jobs, now: now)
            if ids.count < 10 { ids += jobs.prefix(10 - ids.count).map(\.id) }
            remaining -= n
            if count > chunk { FileHandle.standardError.write(Data("enqueued \(count - remaining)/\(count)\n".utf8)) }
        }
        let when = delay.map { " to run in \($0)" } ?? ""
        if count == 1 {
            print("enqueued \(ids[0]) (\(type) on \(queueName)\(when))")
        } else {
            print("enqueued \(count) \(type) jobs on \(queueName)\(when); first ids: \(ids.joined(separator: " "))")
        }
    }

    /// `--topic`: the payload becomes the jobs its topic's routes say, as a webhook delivery would.
    private func route(topic: String, _ configuration: WooqueueConfiguration) async throws {
        let body = try readPayload()
        let router = DeliveryRouter(configuration: configuration)
        let store = try configuration.makeStore()
        var jobs: [JobEnvelope] = []
        for _ in 0..<count {
            do {
                jobs += try router.jobs(for: Delivery(topic: topic, deliveryID: nil, body: body, origin: "cli"))
            } catch {
                throw ValidationError("cannot route this payload: \(error)")
            }
        }
        try await store.enqueue(jobs)
        let summary = Dictionary(grouping: jobs, by: { "\($0.type) on \($0.queue)" }).map { "\($1.count) \($0)" }.sorted()
        print("routed \(topic) into \(jobs.count) job(s): \(summary.joined(separator: ", "))")
    }

    private func readPayload() throws -> [UInt8] {
        let bytes: [UInt8]
        if payload.hasPrefix("@") {
            let path = String(payload.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--payload \(payload): cannot read \(path)")
            }
            bytes = Array(data)
        } else {
            bytes = Array(payload.utf8)
        }
        do {
            try JSONScanner.validate(bytes)
        } catch {
            throw ValidationError("--payload is not valid JSON: \(error)")
        }
        guard bytes.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "{") else {
            throw ValidationError("--payload must be a JSON object such as {\"sleep_ms\": 20}")
        }
        // Stored compact and trimmed: the envelope embeds it verbatim.
        return Array(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    }
}
