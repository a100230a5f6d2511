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
public final class SentinelWatch: Sendable {
    private let switches = Atomic<Int>(0)

    /// How many switches of the primary this watch has seen (or may have missed).
    var generation: Int { switches.load(ordering: .acquiring) }

    private static let watches = Mutex<[String: WeakWatch]>([:])
    private static let announced = Mutex<(count: Int, latest: String)>((0, ""))

    /// Switches of a primary that Sentinel announced to this process (`+switch-master`), over all watches.
    public static var failoversSeen: Int { announced.withLock { $0.count } }

    /// The latest announcement: `<name> <old ip> <old port> <new ip> <new port>`.
    public static var latestFailover: String { announced.withLock { $0.latest } }

    private struct WeakWatch { weak var watch: SentinelWatch? }

    /// The watch of `sentinel`'s primary, started on first use.
    static func shared(for sentinel: SentinelURL, connectTimeout: Duration) -> SentinelWatch {
        let key = "\(sentinel.sentinels)|\(sentinel.primaryName)|\(sentinel.sentinelUsername ?? "")|\(sentinel.sentinelPassword ?? "")|\(sentinel.tls.map { "\($0)" } ?? "")"
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

    /// The watching loop, on its own thread: blocking calls, bounded by a 1 s wait so it notices when the watch
    /// is no longer held.
    private static func follow(_ sentinel: SentinelURL, connectTimeout: Duration, watch: () -> SentinelWatch?) {
        // A TLS context whose files cannot be read: the connections report that, with what to fix.
        let tls = sentinel.tls.flatMap { try? TLSClientContext($0) }
        if sentinel.tls != nil, tls == nil { return }
        var next = 0
        while watch() != nil {
            let endpoint = sentinel.sentinels[next % sentinel.sentinels.count]
            next += 1
            guard let wire = try? RedisWire(host: endpoint.host, port: endpoint.port, tls: tls, connectTimeout: connectTimeout,
                                            endpoint: "Sentinel \(endpoint)"),
                  subscribe(wire, sentinel, timeout: connectTimeout) else {
                Thread.sleep(forTimeInterval: 0.5)
                continue
            }
            watch()?.switches.add(1, ordering: .releasing)
            while let current = watch() {
                guard let messages = wire.awaitReplies(milliseconds: 1000) else { break }
                for message in messages {
                    guard let text = switchAnnouncement(of: sentinel.primaryName, message) else { continue }
                    current.switches.add(1, ordering: .releasing)
                    announced.withLock { $0 = ($0.count + 1, text) }
                }
            }
        }
    }

    /// AUTH when the URL gives the Sentinels a password, then SUBSCRIBE; true when both were accepted.
    private static func subscribe(_ wire: RedisWire, _ sentinel: SentinelURL, timeout: Duration) -> Bool {
        var commands: [RedisCommand] = []
        if let password = sentinel.sentinelPassword {
            commands.append(sentinel.sentinelUsername.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
        }
        commands.append(RedisCommand("SUBSCRIBE", "+switch-master"))
        wire.setTimeout(timeout)
        guard let replies = try? wire.roundTrip(commands) else { return false }
        return !replies.contains { if case .error = $0 { return true }; return false }
    }

    /// The text of `["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"]` for `name`.
    private static func switchAnnouncement(of name: String, _ message: RedisValue) -> String? {
        guard let parts = message.array, parts.count == 3, let text = parts[2].string, text.hasPrefix(name + " ") else { return nil }
        return text
    }
}
