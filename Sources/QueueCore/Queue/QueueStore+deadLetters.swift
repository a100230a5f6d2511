import Foundation
import Parsing
import RedisClient

/// A dead-lettered job: its envelope, and the exact bytes that identify it in the list.
public struct DeadLetter: Sendable {
    public let queue: String
    public let raw: [UInt8]
    /// `nil` when the entry is not a readable envelope; ``raw`` still holds it.
    public let envelope: JobEnvelope?

    /// The entry as one line of a JSON-lines export: the envelope without white space between tokens (a payload
    /// may hold new lines), or an entry that is not JSON as a JSON string.
    public var jsonLine: [UInt8] {
        if let compacted = try? JSONScanner.compacted(raw) { return compacted }
        var line: [UInt8] = []
        JSONWriter.appendString(String(decoding: raw, as: UTF8.self), to: &line)
        return line
    }
}

/// A page of dead letters, and whether more match after it.
public struct DeadLetterPage: Sendable {
    public var letters: [DeadLetter]
    public var hasMore: Bool
}

/// Which dead letters to review: the same filters for `wooqueue dlq` and the dashboard. Unset filters match all.
public struct DeadLetterFilter: Sendable, Equatable {
    /// The job type, exactly.
    public var type: String?
    /// The job id, exactly.
    public var id: String?
    /// Part of the job's key (a SKU, an order number), ignoring case.
    public var key: String?
    /// Part of the last error, ignoring case.
    public var error: String?

    public init(type: String? = nil, id: String? = nil, key: String? = nil, error: String? = nil) {
        self.type = type
        self.id = id
        self.key = key
        self.error = error
    }

    public func matches(_ letter: DeadLetter) -> Bool {
        func contains(_ text: String?, _ part: String?) -> Bool {
            guard let part, !part.isEmpty else { return true }
            return text?.range(of: part, options: .caseInsensitive) != nil
        }
        let envelope = letter.envelope
        return (type == nil || envelope?.type == type) && (id == nil || envelope?.id == id)
            && contains(envelope?.key, key) && contains(envelope?.lastError, error)
    }
}

extension QueueStore {
    /// The dead letters of `queues` that `filter` matches, queue by queue, newest first (one round trip).
    public func deadLetters(queues: [String], matching filter: DeadLetterFilter) async throws -> [DeadLetter] {
        let replies = try await connection.pipeline(queues.map { .command(RedisCommand("LRANGE", keys($0).dead, "0", "-1")) })
        var letters: [DeadLetter] = []
        for (queue, reply) in zip(queues, replies) {
            for raw in try reply.checked().array?.compactMap(\.bytes) ?? [] {
                let letter = DeadLetter(queue: queue, raw: raw, envelope: try? JobEnvelope(decoding: raw))
                if filter.matches(letter) { letters.append(letter) }
            }
        }
        return letters
    }

    /// One page of the dead letters of `queues` that `filter` matches: the `limit` matches after the first
    /// `offset`, queue by queue, newest first. The lists are read in slices of 1,000 entries and the reading stops
    /// once the page is full, so a page of a long list costs what it shows, not the whole list.
    public func deadLetterPage(queues: [String], matching filter: DeadLetterFilter, offset: Int, limit: Int) async throws -> DeadLetterPage {
        let slice = 1000
        var letters: [DeadLetter] = [], skipped = 0
        for queue in queues {
            var start = 0
            while true {
                let reply = try await connection.send("LRANGE", keys(queue).dead, "\(start)", "\(start + slice - 1)")
                let entries = reply.array?.compactMap(\.bytes) ?? []
                for raw in entries {
                    let letter = DeadLetter(queue: queue, raw: raw, envelope: try? JobEnvelope(decoding: raw))
                    guard filter.matches(letter) else { continue }
                    if skipped < offset {
                        skipped += 1
                    } else if letters.count < limit {
                        letters.append(letter)
                    } else {
                        return DeadLetterPage(letters: letters, hasMore: true)
                    }
                }
                if entries.count < slice { break }
                start += slice
            }
        }
        return DeadLetterPage(letters: letters, hasMore: false)
    }

    /// How many entries a queue's dead-letter list holds.
    public func deadLetterCount(queue: String) async throws -> Int {
        try await connection.send("LLEN", keys(queue).dead).int ?? 0
    }

    /// Every entry of a queue's dead-letter list, newest first.
    public func deadLetters(queue: String) async throws -> [DeadLetter] {
        try await deadLetters(queues: [queue], matching: DeadLetterFilter())
    }

    /// Sends dead-lettered jobs back to the tail of their queue with a fresh set of attempts; their error
    /// history stays on the envelope. Entries that are not readable envelopes are left in place. Returns how
    /// many were still in the list.
    @discardableResult
    public func retryDeadLetters(_ letters: [DeadLetter]) async throws -> Int {
        try await reviewDeadLetters(letters.filter { $0.envelope != nil }) { letter in
            guard var envelope = letter.envelope else { return nil }
            envelope.attempt = 0
            envelope.recoveries = 0
            envelope.runAt = nil
            envelope.deadAt = nil
            envelope.enqueuedAt = WallClock.nowMillis()
            return envelope.encoded()
        }
    }

    /// Deletes dead-lettered jobs for good. Returns how many were still in the list.
    @discardableResult
    public func deleteDeadLetters(_ letters: [DeadLetter]) async throws -> Int {
        try await reviewDeadLetters(letters) { _ in nil }
    }

    /// Removes each letter from its dead list and, where `replacement` gives bytes, enqueues them; one script
    /// call per queue and 500 letters.
    private func reviewDeadLetters(_ letters: [DeadLetter], replacement: (DeadLetter) throws -> [UInt8]?) async throws -> Int {
        var requests: [RedisRequest] = []
        for (queue, group) in Dictionary(grouping: letters, by: \.queue) {
            let k = keys(queue)
            for start in stride(from: 0, to: group.count, by: 500) {
                var arguments: [[UInt8]] = [Array(String(statusTTLSeconds).utf8)]
                for letter in group[start..<min(start + 500, group.count)] {
                    arguments.append(letter.raw)
                    arguments.append(try replacement(letter) ?? [])
                }
                requests.append(.script(QueueScripts.reviveOrDelete, keys: [k.dead, k.ready, statusBucket(queue)], arguments: arguments))
            }
        }
        var found = 0
        for reply in try await connection.pipeline(requests) { found += try reply.checked().int ?? 0 }
        return found
    }
}

extension QueueStore {
    /// Puts envelopes straight into their queue's dead-letter list, for what cannot run at all (a delivery with
    /// no route); each keeps its `last_error`.
    public func deadLetter(_ envelopes: [JobEnvelope]) async throws {
        if envelopes.isEmpty { return }
        let requests: [RedisRequest] = envelopes.map { envelope in
            var push = RedisCommand("LPUSH", keys(envelope.queue).dead)
            push.append(envelope.encoded())
            return .command(push)
        }
        for reply in try await connection.pipeline(requests) { _ = try reply.checked() }
    }
}
