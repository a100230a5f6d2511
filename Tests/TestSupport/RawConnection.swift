import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a server on loopback, for what an HTTP client hides: a request sent slowly, or not
/// at all, and whether the server closed the connection. Every blocking socket call runs on a thread of its own,
/// off the cooperative pool.
public final class RawConnection: @unchecked Sendable {
    // @unchecked Sendable: the descriptor is only used by one test at a time, one call after another.
    private let descriptor: Int32

    public init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED)
        }
    }

    deinit { Glibc.close(descriptor) }

    /// Sends all of `bytes`; false when the server has closed the connection.
    @discardableResult
    public func send(_ bytes: [UInt8]) async -> Bool {
        await offPool {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes { Glibc.send(self.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0, errno == EINTR { continue }
                guard sent > 0 else { return false }
                offset += sent
            }
            return true
        }
    }

    public func send(_ text: String) async -> Bool { await send(Array(text.utf8)) }

    /// Reads until `done` says the bytes so far are enough, the server closes the connection, or `timeout` passes.
    public func read(for timeout: Duration, until done: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }) async -> (bytes: [UInt8], closed: Bool) {
        await offPool {
            var bytes: [UInt8] = []
            let deadline = ContinuousClock.now + timeout
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !done(bytes) {
                let left = deadline - ContinuousClock.now
                guard left > .zero else { return (bytes, false) }
                var poller = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
                if ready < 0, errno == EINTR { continue }
                guard ready > 0 else { continue }
                let count = buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return (bytes, true) }  // 0: the server closed; < 0: reset
                bytes += buffer[0..<count]
            }
            return (bytes, false)
        }
    }

    /// Reads one whole HTTP response (head and a `Content-Length` body), or what came before `timeout`.
    public func response(within timeout: Duration) async -> String? {
        let read = await read(for: timeout) { bytes in Self.isWholeResponse(bytes) }
        return Self.isWholeResponse(read.bytes) ? String(decoding: read.bytes, as: UTF8.self) : nil
    }

    private static func isWholeResponse(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let length = text[..<end.lowerBound].split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        return text[end.upperBound...].utf8.count >= length
    }

    private func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in Thread.detachNewThread { continuation.resume(returning: body()) } }
    }
}
