import Dispatch

/// A serial queue for blocking C calls (hiredis, libpq).
///
/// Each client connection owns one. Work submitted here runs on a Dispatch thread, never on Swift's cooperative
/// thread pool or a NIO event loop, so a blocked `BLMOVE` or a slow query cannot starve the rest of the process.
/// Because the queue is serial, everything it runs sees the connection's C state from one thread at a time.
public final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    /// - Parameter label: names the queue in debuggers and crash reports.
    public init(label: String) {
        self.queue = DispatchQueue(label: label)
    }

    /// Runs `body` on the queue and resumes the caller with its result.
    ///
    /// The caller's task is suspended, not blocked. Cancellation is not observed: a C call in flight cannot be
    /// interrupted, so callers give their C calls timeouts instead.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withUnsafeThrowingContinuation { continuation in
            self.queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// Runs `body` on the queue and waits for it; for `deinit` and shutdown paths that cannot suspend.
    public func sync<T>(_ body: () throws -> T) rethrows -> T {
        try self.queue.sync(execute: body)
    }
}
