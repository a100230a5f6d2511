public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A redis-server of a test's own on a loopback port (a Redis Cluster node, a replica, a Sentinel), with no
/// persistence, in a temporary directory. `stop()` ends it and removes the directory; a test calls it on every path.
public final class RedisServerProcess: @unchecked Sendable {
    public let port: Int
    /// Spawned with `posix_spawn` and reaped with `waitpid` here: Foundation's `Process` passes on the test
    /// process's ignored signals, and its `waitUntilExit` spun without end when the server did not stop.
    private let pid: pid_t
    private var reaped = false
    private let directory: URL

    /// Starts `redis-server` with `arguments` after the port and directory (`--sentinel` in them makes a Sentinel;
    /// its configuration file is written from `sentinelConfiguration`), and waits (bounded) until it answers PING.
    public init(arguments: [String] = [], sentinelConfiguration: String? = nil) async throws {
        port = try freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-redis-\(port)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var leading: [String] = []
        if let sentinelConfiguration {
            let file = directory.appendingPathComponent("sentinel.conf")
            try Data(sentinelConfiguration.utf8).write(to: file)
            leading = [file.path]
        }
        let argv: [UnsafeMutablePointer<CChar>?] = (["/usr/bin/redis-server"] + leading + [
            "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--logfile", directory.appendingPathComponent("redis.log").path,
        ] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // Every signal at its default and none blocked: the test process ignores or blocks some (SIGTERM among
        // them), and a child inherits both, so it would never stop.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/redis-server", nil, &attributes, argv, environ)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        self.pid = pid
        let port = port
        do {
            try await waitUntil("redis-server on port \(port) to answer", timeout: .seconds(10)) {
                try await runToCompletion("/usr/bin/redis-cli", ["-p", "\(port)", "PING"]) == 0
            }
        } catch {
            // Say why, from the server's own log, before the directory goes.
            let log = (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
            stop()
            throw StartFailure(description: "\(error); redis-server's log ends: \(log.split(separator: "\n").suffix(3).joined(separator: " | "))")
        }
    }

    struct StartFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// `redis://127.0.0.1:<port>/0`.
    public var url: String { "redis://127.0.0.1:\(port)/0" }

    public func stop() {
        end(signal: SIGTERM)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Ends it at once, as a crash would (SIGKILL).
    public func kill() {
        end(signal: SIGKILL)
    }

    private func end(signal: Int32) {
        guard !reaped else { return }
        Glibc.kill(pid, signal)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        reaped = true
    }
}
