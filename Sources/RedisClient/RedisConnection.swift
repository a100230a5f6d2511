import ClientSupport
import CHiredis
import Foundation
import Parsing

/// One connection to Redis over hiredis.
///
/// Every hiredis call runs on the connection's own ``BlockingQueue``, so a blocking command or a slow network never
/// holds a cooperative-pool thread. The connection is opened lazily and re-opened after it breaks (the server
/// restarted, a timeout): the call that finds it broken throws a `.connection` error, and the next call reconnects.
/// Commands are not retried automatically, because a write whose reply was lost may have run.
///
/// Calls from several tasks are safe and run one after another; blocking commands (`BLMOVE`) hold the connection
/// for their whole wait, so give them a connection of their own.
public final class RedisConnection: @unchecked Sendable {
    // @unchecked Sendable: `context` is only read or written inside `io.run` / `io.sync`, which run serially.
    private var context: UnsafeMutablePointer<redisContext>?
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

    deinit {
        if let context { redisFree(context) }
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
        let context = try connected()
        var replies = try roundTrip(context, requests.map { try command(for: $0, context: context) })
        // NOSCRIPT: the server lost its script cache (restart, SCRIPT FLUSH). Scripts that got it did not run,
        // so load them again and re-run exactly those.
        let missing = replies.indices.filter {
            if case .error(let message) = replies[$0], RedisError.ServerCode(reply: message) == .noScript { return true }
            return false
        }
        if !missing.isEmpty {
            for index in missing { if case .script(let script, _, _) = requests[index] { try load(script, context) } }
            let retried = try roundTrip(context, missing.map { try command(for: requests[$0], context: context) })
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

    private func command(for request: RedisRequest, context: UnsafeMutablePointer<redisContext>) throws -> RedisCommand {
        switch request {
        case .command(let command):
            return command
        case .script(let script, let keys, let arguments):
            let sha = try script.cachedSHA ?? load(script, context)
            var command = RedisCommand("EVALSHA", sha, String(keys.count))
            for key in keys { command.append(key) }
            for argument in arguments { command.append(argument) }
            return command
        }
    }

    @discardableResult
    private func load(_ script: RedisScript, _ context: UnsafeMutablePointer<redisContext>) throws -> String {
        let reply = try roundTrip(context, [RedisCommand("SCRIPT", "LOAD", script.source)])[0]
        if case .error(let message) = reply { throw RedisError(.server, "loading script \(script.name): \(message)") }
        guard let sha = reply.string else { throw RedisError(.unexpectedReply, "SCRIPT LOAD returned \(reply)") }
        script.remember(sha: sha)
        return sha
    }

    /// Appends every command to hiredis's output buffer, then reads one reply per command.
    private func roundTrip(_ context: UnsafeMutablePointer<redisContext>, _ commands: [RedisCommand]) throws -> [RedisValue] {
        for command in commands {
            let status = Self.withArgv(command.arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            if status != REDIS_OK { throw brokenConnection(context, during: command.name) }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for command in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                throw brokenConnection(context, during: command.name)
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.value(of: reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func connected() throws -> UnsafeMutablePointer<redisContext> {
        if let context {
            // A connection to a primary Sentinel has since replaced is dropped before it takes a write.
            if context.pointee.err == 0, sentinelWatch?.generation ?? 0 == connectedAtGeneration { return context }
            disconnect()
        }
        connectedAtGeneration = sentinelWatch?.generation ?? 0
        let config = configuration
        let (host, port) = try config.sentinel.map(primary(from:)) ?? (config.host, config.port)
        let endpoint = config.sentinel == nil ? config.endpointDescription : "\(config.endpointDescription) at \(host):\(port)"
        guard let context = redisConnectWithTimeout(host, Int32(port), Self.timeval(config.connectTimeout)) else {
            throw RedisError(.connection, "cannot allocate a hiredis context for \(endpoint)")
        }
        if context.pointee.err != 0 {
            let reason = Self.errorString(context)
            redisFree(context)
            throw RedisError(.connection, "\(endpoint): \(reason). Is Redis running there? (scripts/services start)")
        }
        redisSetTimeout(context, Self.timeval(config.commandTimeout))
        redisEnableKeepAlive(context)
        self.context = context
        do {
            var setup: [RedisCommand] = []
            if let password = config.password {
                setup.append(config.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
            }
            if config.database != 0 { setup.append(RedisCommand("SELECT", String(config.database))) }
            // The server a Sentinel named may have been demoted since: only a primary will do.
            if config.sentinel != nil { setup.append(RedisCommand("ROLE")) }
            for reply in try roundTrip(context, setup) {
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
        } catch {
            disconnect()
            throw error
        }
        return context
    }

    /// Asks each Sentinel in turn for the primary's address; the first that names one wins. A Sentinel that is down
    /// or does not know the name is skipped; when none names it, this is an outage (`.connection`) the caller waits
    /// out, and the error lists what each Sentinel said.
    private func primary(from sentinel: SentinelURL) throws -> (String, Int) {
        var reasons: [String] = []
        for endpoint in sentinel.sentinels {
            guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), Self.timeval(configuration.connectTimeout)) else {
                reasons.append("\(endpoint): cannot allocate a hiredis context")
                continue
            }
            defer { redisFree(context) }
            if context.pointee.err != 0 {
                reasons.append("\(endpoint): \(Self.errorString(context))")
                continue
            }
            redisSetTimeout(context, Self.timeval(configuration.connectTimeout))
            var commands: [RedisCommand] = []
            if let password = sentinel.sentinelPassword {
                commands.append(sentinel.sentinelUsername.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
            }
            commands.append(RedisCommand("SENTINEL", "get-master-addr-by-name", sentinel.primaryName))
            let replies: [RedisValue]
            do {
                // No connection of ours is open while this runs (`connected()` calls it before opening one), so the
                // error path of `roundTrip`, which drops `self.context`, drops nothing.
                replies = try roundTrip(context, commands)
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
        if let context { redisFree(context) }
        context = nil
    }

    /// Reads the context's error and drops the context, which hiredis cannot use again after an I/O error.
    private func brokenConnection(_ context: UnsafeMutablePointer<redisContext>, during command: String) -> RedisError {
        let reason = context.pointee.err != 0 ? Self.errorString(context) : "connection lost"
        disconnect()
        return RedisError(.connection, "\(configuration.endpointDescription) during \(command): \(reason)")
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

    // MARK: - C helpers

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { buffer in
            String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    /// Copies the arguments into one contiguous buffer and passes hiredis pointers and lengths into it.
    private static func withArgv<R>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        let total = arguments.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        defer { storage.deallocate() }
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        pointers.reserveCapacity(arguments.count)
        lengths.reserveCapacity(arguments.count)
        var offset = 0
        for argument in arguments {
            argument.withUnsafeBufferPointer { source in
                if let base = source.baseAddress { (storage + offset).initialize(from: base, count: source.count) }
            }
            pointers.append(UnsafeRawPointer(storage + offset).assumingMemoryBound(to: CChar.self))
            lengths.append(argument.count)
            offset += argument.count
        }
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { lengthBuffer in
                body(Int32(arguments.count), argv.baseAddress!, lengthBuffer.baseAddress!)
            }
        }
    }

    private static func value(of reply: UnsafePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .bulk(r.len == 0 ? [] : Array(UnsafeRawBufferPointer(start: r.str, count: r.len)))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            var values: [RedisValue] = []
            values.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = r.element[index] { values.append(value(of: element)) } else { values.append(.null) }
            }
            return .array(values)
        default:
            return .error("unknown hiredis reply type \(r.type)")
        }
    }
}

/// One entry of a pipeline: a plain command or a script call.
public enum RedisRequest: Sendable {
    case command(RedisCommand)
    case script(RedisScript, keys: [String], arguments: [[UInt8]])
}
