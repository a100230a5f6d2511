import CHiredis
import Foundation

/// One open connection to a Redis server or Sentinel: a hiredis context (its socket and its reply reader), with
/// the bytes carried in the clear by hiredis itself, or over TLS by OpenSSL, since hiredis 0.14 has no TLS.
///
/// Over TLS, hiredis still formats the commands and parses the replies: the commands of a round trip go out in one
/// `SSL_write`, and replies come in with `SSL_read` into a buffer that hiredis's reader takes. That is the same
/// number of copies as hiredis makes in the clear, on the same thread, with no relay between.
///
/// Blocking calls: use it on a thread that may block (a ``BlockingQueue``), never on an event loop or the
/// cooperative pool. Errors name what failed but not the server; callers add that.
final class RedisWire {
    let context: UnsafeMutablePointer<redisContext>
    private let tls: TLSSession?
    /// Where `SSL_read` puts decrypted bytes before hiredis's reader takes them (TLS only).
    private let readBuffer: UnsafeMutableRawBufferPointer?

    private static let readBufferSize = 16 * 1024

    /// Connects to `host:port`, with TLS when `tls` is given; `endpoint` names the server in errors.
    init(host: String, port: Int, tls: TLSClientContext?, connectTimeout: Duration, endpoint: String) throws {
        guard let context = redisConnectWithTimeout(host, Int32(port), Self.timeval(connectTimeout)) else {
            throw RedisError(.connection, "cannot allocate a hiredis context for \(endpoint)")
        }
        if context.pointee.err != 0 {
            let reason = Self.errorString(context)
            redisFree(context)
            throw RedisError(.connection, "\(endpoint): \(reason). Is Redis running there? (scripts/services start)")
        }
        redisEnableKeepAlive(context)
        do {
            if let tls {
                // hiredis leaves the socket blocking; these timeouts bound the handshake.
                redisSetTimeout(context, Self.timeval(connectTimeout))
                self.tls = try tls.handshake(fd: context.pointee.fd, host: host, endpoint: endpoint)
                readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 1)
            } else {
                self.tls = nil
                readBuffer = nil
            }
        } catch {
            redisFree(context)
            throw error
        }
        self.context = context
    }

    deinit {
        readBuffer?.deallocate()
        redisFree(context)
    }

    /// Bounds every later read and write.
    func setTimeout(_ timeout: Duration) { redisSetTimeout(context, Self.timeval(timeout)) }

    var fileDescriptor: Int32 { context.pointee.fd }

    /// False once an I/O error has made the connection unusable.
    var isUsable: Bool { context.pointee.err == 0 && !tlsBroken }
    private var tlsBroken = false

    /// Sends every command in one write, then reads one reply per command. Error replies come back in place; a
    /// broken connection throws (and stays unusable).
    func roundTrip(_ commands: [RedisCommand]) throws -> [RedisValue] {
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        if tls != nil {
            try writeOverTLS(commands)
            for command in commands { replies.append(try nextReplyOverTLS(during: command.name)) }
            return replies
        }
        for command in commands {
            let status = Self.withArgv(command.arguments) { argc, argv, lengths in redisAppendCommandArgv(context, argc, argv, lengths) }
            if status != REDIS_OK { throw broken(during: command.name) }
        }
        for command in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw broken(during: command.name) }
            replies.append(Self.value(of: raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
    }

    /// For a subscriber: waits up to `milliseconds` for bytes and returns the replies complete so far (none when
    /// nothing arrived); `nil` once the connection broke.
    func awaitReplies(milliseconds: Int32) -> [RedisValue]? {
        var replies = bufferedReplies()
        guard replies != nil, replies!.isEmpty else { return replies }
        if !(tls?.hasBufferedBytes ?? false) {
            var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready == 0 { return [] }
            if ready < 0 { return errno == EINTR ? [] : nil }
        }
        if let tls, let readBuffer {
            guard let count = try? tls.read(into: readBuffer), redisReaderFeed(context.pointee.reader, readBuffer.baseAddress, count) == REDIS_OK else {
                tlsBroken = true
                return nil
            }
        } else if redisBufferRead(context) != REDIS_OK {
            return nil
        }
        replies = bufferedReplies()
        return replies
    }

    // MARK: - TLS

    /// Formats all commands into one buffer with hiredis and writes it in one go.
    private func writeOverTLS(_ commands: [RedisCommand]) throws {
        var output: [UInt8] = []
        for command in commands {
            var formatted: UnsafeMutablePointer<CChar>?
            let length = Self.withArgv(command.arguments) { argc, argv, lengths in redisFormatCommandArgv(&formatted, argc, argv, lengths) }
            guard length > 0, let formatted else { throw RedisError(.connection, "cannot format \(command.name)") }
            output.append(contentsOf: UnsafeRawBufferPointer(start: formatted, count: Int(length)))
            redisFreeCommand(formatted)
        }
        guard let tls, let readBuffer else { preconditionFailure("TLS write on a connection without TLS") }
        do {
            try output.withUnsafeBytes { try tls.write($0) }
        } catch {
            tlsBroken = true
            throw tls.refusalAfterFailedWrite(into: readBuffer) ?? error
        }
    }

    /// The next reply: from what the reader holds, else after reading more.
    private func nextReplyOverTLS(during command: String) throws -> RedisValue {
        guard let tls, let readBuffer else { preconditionFailure("TLS reply read on a connection without TLS") }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReplyFromReader(context, &raw) == REDIS_OK else {
                tlsBroken = true
                throw RedisError(.connection, "during \(command): \(Self.errorString(context))")
            }
            if let raw {
                tls.hasReadReply = true
                defer { freeReplyObject(raw) }
                return Self.value(of: raw.assumingMemoryBound(to: redisReply.self))
            }
            do {
                let count = try tls.read(into: readBuffer)
                guard redisReaderFeed(context.pointee.reader, readBuffer.baseAddress, count) == REDIS_OK else {
                    throw RedisError(.connection, "during \(command): the reply reader refused the bytes")
                }
            } catch let error as RedisError where error.kind == .connection {
                tlsBroken = true
                throw RedisError(.connection, "during \(command): \(error.message)")
            } catch {
                tlsBroken = true
                throw error
            }
        }
    }

    // MARK: - hiredis helpers

    /// The replies the reader holds complete; `nil` when it found a protocol error.
    private func bufferedReplies() -> [RedisValue]? {
        var replies: [RedisValue] = []
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { return nil }
            guard let raw else { return replies }
            replies.append(Self.value(of: raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
    }

    private func broken(during command: String) -> RedisError {
        RedisError(.connection, "during \(command): \(context.pointee.err != 0 ? Self.errorString(context) : "connection lost")")
    }

    static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
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
