public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion and returns its exit status.
///
/// Used instead of Foundation's `Process` for commands that start daemons (`scripts/services`): on Linux,
/// `Process` notices a child's exit through a socket the child inherits, and a daemon it starts keeps that
/// socket open, so the exit would go unnoticed. `waitpid` runs on a thread of its own, off the cooperative pool.
public func runToCompletion(_ path: String, _ arguments: [String]) async throws -> Int32 {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            let spawned = posix_spawn(&pid, path, nil, nil, argv, environ)
            guard spawned == 0 else {
                continuation.resume(throwing: POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL))
                return
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            // WIFEXITED / WEXITSTATUS, which Swift does not import.
            continuation.resume(returning: status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
        }
    }
}

/// An HTTP exchange through curl, a client independent of the code under test: the status and the body.
/// `arguments` are curl's (a URL, `-H` headers, `--data-binary`); it gives up after 10 s.
public func curl(_ arguments: [String]) async throws -> (status: Int, body: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s", "--max-time", "10", "-w", "\n%{http_code}"] + arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let printed = String(decoding: await readToEnd(out), as: UTF8.self)
    process.waitUntilExit()
    guard let newline = printed.lastIndex(of: "\n") else { return (0, printed) }
    return (Int(printed[printed.index(after: newline)...]) ?? 0, String(printed[..<newline]))
}

/// Reads a pipe to its end on a thread of its own: the read blocks, which must not happen on the cooperative pool.
public func readToEnd(_ pipe: Pipe) async -> Data {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile()) }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on now, chosen by the kernel (bind to port 0), for a server a test
/// starts in another process.
public func freePort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
    }
    guard bound else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return Int(UInt16(bigEndian: address.sin_port))
}
