import ClientSupport
import Foundation
import Parsing

/// One connection to Redis over hiredis, in the clear or over TLS (see ``RedisWire``).
///
/// Every hiredis call runs on the connection's own ``BlockingQueue``, so a blocking command or a slow network never
/// holds a cooperative-pool thread. The connection is opened lazily and re-opened after it breaks (the server
/// restarted, a timeout): the call that finds it broken throws a `.connection` error, and the next call reconnects.
/// Commands are not retried automatically, because a write whose reply was lost may have run.
///
/// Calls from several tasks are safe and run one after another; blocking commands (`BLMOVE`) hold the connection
/// for their whole wait, so give them a connection of their own.
public final class RedisConnection: @unchecked Sendable {
    // @unchecked Sendable: `wire` and `tls` are only read or written inside `io.run`, which runs serially.
    private var wire: RedisWire?
    private var tls: TLSClientContext?
    private let io: BlockingQueue
    public let configuration: RedisConfiguration
    /// With Sentinel: the switches of the primary seen so far, and the count this connection was opened at.
    private let sentinelWatch: SentinelWatch?
    private var connectedAtGeneration = 0

    public init(configuration: RedisConfiguration, label: String = "redis") {
        self.configuration = configuration
        self.io = BlockingQueue(label: "wooqueue.redis.\(label)")
        self.sentinelWatch = configuration.sentinel.map { SentinelWatch.shared(for: $0, connectTimeout: configuration.connectTimeout) }
    }

    public convenience init(url: String, label: String = "redis") throws {
        self.init(configuration: try RedisConfiguration(url: url), label: label)
    }

    // MARK: - Public API

    /// Sends one command; an error reply is thrown as a `.server` ``RedisError``.
    @discardableResult
    public func send(_ command: RedisCommand) async throws -> RedisValue {
        try await io.run { try self.execute([.command(command)])[0].checked() }
    }

    /// Sends one command built from text arguments.
    @discardableResult
    public func send(_ name: String, _ arguments: String...) async throws -> RedisValue {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends all requests in one write and reads all replies: one round trip.
    ///
    /// Error replies come back in place as ``RedisValue/error(_:)``, so one failing command does not hide the
    /// others' results. A broken connection throws.
    public func pipeline(_ requests: [RedisRequest]) async throws -> [RedisValue] {
        if requests.isEmpty { return [] }
        return try await io.run { try self.execute(requests) }
    }

    /// Runs a Lua script by SHA, loading it when the server does not know it.
    @discardableResult
    public func run(_ script: RedisScript, keys: [String], arguments: [[UInt8]] = []) async throws -> RedisValue {
        try await io.run { try self.execute([.script(script, keys: keys, arguments: arguments)])[0].checked() }
    }

    /// Closes the connection now; a later call opens a new one.
    public func close() async {
        _ = try? await io.run { self.disconnect() }
    }

    // MARK: - On the I/O queue

    private func execute(_ requests: [RedisRequest]) throws -> [RedisValue] {
        let wire = try connected()
        var replies = try roundTrip(wire, requests.map { try command(for: $0, wire: wire) })
        // NOSCRIPT: the server lost its script cache (restart, SCRIPT FLUSH). Scripts that got it did not run,
        // so load them again and re-run exactly those.
        let missing = replies.indices.filter {
            if case .error(let message) = replies[$0], RedisError.ServerCode(reply: message) == .noScript { return true }
            return false
        }
        if !missing.isEmpty {
            for index in missing { if case .script(let script, _, _) = requests[index] { try load(script, wire) } }
            let retried = try roundTrip(wire, missing.map { try command(for: requests[$0], wire: wire) })
            for (index, reply) in zip(missing, retried) { replies[index] = reply }
        }
        // A server that is no longer the primary (a failover demoted it, or it is loading after one): drop the
        // connection, so the next command connects afresh, through the Sentinels when there are any. The replies
        // still carry the errors, which callers treat as an outage to wait out.
        if replies.contains(where: { if case .error(let message) = $0 { return meansRoleChange(message) }; return false }) {
            disconnect()
        }
        return replies
    }

    private func command(for request: RedisRequest, wire: RedisWire) throws -> RedisCommand {
        switch request {
        case .command(let command):
            return command
        case .script(let script, let keys, let arguments):
            let sha = try script.cachedSHA ?? load(script, wire)
            var command = RedisCommand("EVALSHA", sha, String(keys.count))
            for key in keys { command.append(key) }
            for argument in arguments { command.append(argument) }
            return command
        }
    }

    @discardableResult
    private func load(_ script: RedisScript, _ wire: RedisWire) throws -> String {
        let reply = try roundTrip(wire, [RedisCommand("SCRIPT", "LOAD", script.source)])[0]
        if case .error(let message) = reply { throw RedisError(.server, "loading script \(script.name): \(message)") }
        guard let sha = reply.string else { throw RedisError(.unexpectedReply, "SCRIPT LOAD returned \(reply)") }
        script.remember(sha: sha)
        return sha
    }

    /// One round trip on `wire`; a broken connection is dropped (hiredis cannot use it again) and reported with
    /// the server's name.
    private func roundTrip(_ wire: RedisWire, _ commands: [RedisCommand]) throws -> [RedisValue] {
        do {
            return try wire.roundTrip(commands)
        } catch let error as RedisError {
            disconnect()
            throw RedisError(error.kind, "\(configuration.endpointDescription) \(error.message)")
        }
    }

    private func connected() throws -> RedisWire {
        if let wire {
            // A connection to a primary Sentinel has since replaced is dropped before it takes a write.
            if wire.isUsable, sentinelWatch?.generation ?? 0 == connectedAtGeneration { return wire }
            disconnect()
        }
        connectedAtGeneration = sentinelWatch?.generation ?? 0
        let config = configuration
        let (host, port) = try config.sentinel.map(primary(from:)) ?? (config.host, config.port)
        let endpoint = config.sentinel == nil ? config.endpointDescription : "\(config.endpointDescription) at \(host):\(port)"
        let wire = try RedisWire(host: host, port: port, tls: try tlsContext(), connectTimeout: config.connectTimeout, endpoint: endpoint)
        wire.setTimeout(config.commandTimeout)
        self.wire = wire
        do {
            var setup: [RedisCommand] = []
            if let password = config.password {
                setup.append(config.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
            }
            if config.database != 0 { setup.append(RedisCommand("SELECT", String(config.database))) }
            // The server a Sentinel named may have been demoted since: only a primary will do.
            if config.sentinel != nil { setup.append(RedisCommand("ROLE")) }
            // Over TLS, a server that refuses this client's certificate says so only at the first read (TLS 1.3):
            // read one now, so that the refusal is a setting to fix at start, not an outage waited out later.
            if config.tls != nil, setup.isEmpty { setup.append(RedisCommand("PING")) }
            for reply in try wire.roundTrip(setup) {
                if case .error(let message) = reply {
                    // A wrong user or password is a setting to fix, not an outage to wait out.
                    if RedisError.ServerCode(reply: message) == .wrongPassword || message.contains("AUTH") {
                        throw RedisError(.configuration, """
                            \(endpoint) refused the user and password of the Redis URL (\(message)): check them in \
                            redis.url or WOOQUEUE_REDIS_URL; for an ACL user see the README's "Redis user (ACL)"
                            """)
                    }
                    throw RedisError(.connection, "\(endpoint) refused the session setup: \(message)")
                }
                if let role = reply.array?.first?.string, role != "master" {
                    throw RedisError(.connection, "\(endpoint) is a \(role) now, not the primary: waiting for Sentinel to name the new one")
                }
            }
        } catch let error as RedisError {
            disconnect()
            throw error.message.hasPrefix(endpoint) ? error : RedisError(error.kind, "\(endpoint): \(error.message)")
        }
        return wire
    }

    /// The TLS context of this connection's URL, made at the first connection (its files are read then).
    private func tlsContext() throws -> TLSClientContext? {
        guard let options = configuration.tls else { return nil }
        if let tls { return tls }
        let made = try TLSClientContext(options)
        tls = made
        return made
    }

    /// Asks each Sentinel in turn for the primary's address; the first that names one wins. A Sentinel that is down
    /// or does not know the name is skipped; when none names it, this is an outage (`.connection`) the caller waits
    /// out, and the error lists what each Sentinel said.
    private func primary(from sentinel: SentinelURL) throws -> (String, Int) {
        var reasons: [String] = []
        let tls = try tlsContext()
        for endpoint in sentinel.sentinels {
            var commands: [RedisCommand] = []
            if let password = sentinel.sentinelPassword {
                commands.append(sentinel.sentinelUsername.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
            }
            commands.append(RedisCommand("SENTINEL", "get-master-addr-by-name", sentinel.primaryName))
            let replies: [RedisValue]
            do {
                let wire = try RedisWire(host: endpoint.host, port: endpoint.port, tls: tls, connectTimeout: configuration.connectTimeout,
                                         endpoint: "Sentinel \(endpoint)")
                wire.setTimeout(configuration.connectTimeout)
                replies = try wire.roundTrip(commands)
            } catch let error as RedisError where error.kind == .configuration {
                throw error
            } catch {
                reasons.append("\(endpoint): \(error)")
                continue
            }
            // A refused password, or a Sentinel that wants one: a setting to fix, not an outage.
            if case .error(let message)? = replies.first, sentinel.sentinelPassword != nil || message.hasPrefix("NOAUTH") {
                throw RedisError(.configuration, """
                    Sentinel \(endpoint) refused the request (\(message)): set sentinelUser and sentinelPassword in the \
                    Redis URL's query (?sentinelUser=…&sentinelPassword=…)
                    """)
            }
            guard let address = replies.last?.array, address.count == 2, let host = address[0].string,
                  let port = address[1].string.flatMap({ Int($0) }), (1...65535).contains(port) else {
                reasons.append("\(endpoint): \(replies.last.map { $0.isNull ? "it monitors no primary named \(sentinel.primaryName)" : "\($0)" } ?? "no reply")")
                continue
            }
            return (host, port)
        }
        throw RedisError(.connection, "no Sentinel named the primary \(sentinel.primaryName): \(reasons.joined(separator: "; "))")
    }

    private func disconnect() {
        wire = nil
    }

    private func meansRoleChange(_ message: String) -> Bool { Self.meansRoleChange(message, sentinel: configuration.sentinel != nil) }

    /// `READONLY` and `UNBLOCKED` always mean the server was demoted; with Sentinel, `LOADING` and `MASTERDOWN` too
    /// call for asking the Sentinels again.
    static func meansRoleChange(_ message: String, sentinel: Bool) -> Bool {
        switch RedisError.ServerCode(reply: message) {
        case .readOnly, .unblocked: true
        case .loading, .masterDown: sentinel
        default: false
        }
    }
}

/// One entry of a pipeline: a plain command or a script call.
public enum RedisRequest: Sendable {
    case command(RedisCommand)
    case script(RedisScript, keys: [String], arguments: [[UInt8]])
}
