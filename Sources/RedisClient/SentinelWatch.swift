import CHiredis
import Foundation
import Parsing
import Synchronization

/// Tells connections at once when Sentinel switches a primary, instead of after the old primary is demoted (which
/// takes Sentinel a second or more, while writes to it are lost).
///
/// One watch per Sentinel URL and process, shared by its connections: a thread of its own subscribes to
/// `+switch-master` on one Sentinel after another, and counts the switches of the primary. A connection remembers
/// the count it connected at and reconnects (asking the Sentinels again) when the count has moved. Reconnecting to
/// a Sentinel counts as a switch too, as one may have been missed meanwhile. The thread ends once no connection
/// holds the watch (checked every second).
final class SentinelWatch: Sendable {
    private let switches = Atomic<Int>(0)

    /// How many switches of the primary this watch has seen (or may have missed).
    var generation: Int { switches.load(ordering: .acquiring) }

    private static let watches = Mutex<[String: WeakWatch]>([:])

    private struct WeakWatch { weak var watch: SentinelWatch? }

    /// The watch of `sentinel`'s primary, started on first use.
    static func shared(for sentinel: SentinelURL, connectTimeout: Duration) -> SentinelWatch {
        let key = "\(sentinel.sentinels)|\(sentinel.primaryName)|\(sentinel.sentinelUsername ?? "")|\(sentinel.sentinelPassword ?? "")"
        return watches.withLock { watches in
            if let watch = watches[key]?.watch { return watch }
            let watch = SentinelWatch()
            watches[key] = WeakWatch(watch: watch)
            let thread = Thread { [weak watch] in SentinelWatch.follow(sentinel, connectTimeout: connectTimeout, watch: { watch }) }
            thread.name = "wooqueue.sentinel-watch"
            thread.start()
            return watch
        }
    }

    private init() {}

    /// The watching loop, on its own thread: blocking hiredis calls, bounded by `poll` so it notices when the watch
    /// is no longer held.
    private static func follow(_ sentinel: SentinelURL, connectTimeout: Duration, watch: () -> SentinelWatch?) {
        var next = 0
        while watch() != nil {
            let endpoint = sentinel.sentinels[next % sentinel.sentinels.count]
            next += 1
            let timeout = RedisConnection.timeval(connectTimeout)
            guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), timeout) else {
                Thread.sleep(forTimeInterval: 0.5)
                continue
            }
            defer { redisFree(context) }
            guard context.pointee.err == 0, subscribe(context, sentinel) else {
                Thread.sleep(forTimeInterval: 0.5)
                continue
            }
            watch()?.switches.add(1, ordering: .releasing)
            while let current = watch() {
                var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, 1000)
                if ready == 0 { continue }
                guard ready > 0, redisBufferRead(context) == REDIS_OK else { break }
                var raw: UnsafeMutableRawPointer?
                while redisGetReplyFromReader(context, &raw) == REDIS_OK, let reply = raw {
                    if isSwitch(of: sentinel.primaryName, reply.assumingMemoryBound(to: redisReply.self)) {
                        current.switches.add(1, ordering: .releasing)
                    }
                    freeReplyObject(reply)
                    raw = nil
                }
                if context.pointee.err != 0 { break }
            }
        }
    }

    /// AUTH when the URL gives the Sentinels a password, then SUBSCRIBE; true when both were accepted.
    private static func subscribe(_ context: UnsafeMutablePointer<redisContext>, _ sentinel: SentinelURL) -> Bool {
        var commands: [[String]] = []
        if let password = sentinel.sentinelPassword {
            commands.append(["AUTH"] + (sentinel.sentinelUsername.map { [$0] } ?? []) + [password])
        }
        commands.append(["SUBSCRIBE", "+switch-master"])
        for command in commands {
            var cStrings = command.map { strdup($0) }
            defer { cStrings.forEach { free($0) } }
            let lengths = command.map { $0.utf8.count }
            let reply = cStrings.withUnsafeMutableBufferPointer { argv in
                argv.withMemoryRebound(to: UnsafePointer<CChar>?.self) { argv in
                    redisCommandArgv(context, Int32(command.count), argv.baseAddress, lengths)
                }
            }
            guard let reply else { return false }
            let failed = reply.assumingMemoryBound(to: redisReply.self).pointee.type == REDIS_REPLY_ERROR
            freeReplyObject(reply)
            if failed { return false }
        }
        return true
    }

    /// `["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"]` for `name`.
    private static func isSwitch(of name: String, _ reply: UnsafePointer<redisReply>) -> Bool {
        let r = reply.pointee
        guard r.type == REDIS_REPLY_ARRAY, r.elements == 3, let payload = r.element[2] else { return false }
        let text = String(decoding: UnsafeRawBufferPointer(start: payload.pointee.str, count: payload.pointee.len), as: UTF8.self)
        return text.hasPrefix(name + " ")
    }
}
