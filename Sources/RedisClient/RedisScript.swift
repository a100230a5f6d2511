import Synchronization

/// A Lua script run with `EVALSHA`.
///
/// The SHA is learnt from `SCRIPT LOAD` on first use and cached; a `NOSCRIPT` reply (the server restarted or ran
/// `SCRIPT FLUSH`) loads the script again and retries once.
public final class RedisScript: Sendable {
    public let name: String
    public let source: String
    private let sha = Mutex<String?>(nil)

    /// - Parameters:
    ///   - name: shown in errors, so a failing script can be told apart.
    ///   - source: the Lua text.
    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }

    var cachedSHA: String? { sha.withLock { $0 } }

    func remember(sha value: String) {
        sha.withLock { $0 = value }
    }
}
