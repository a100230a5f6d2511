/// An error from a client of a service the worker depends on (Redis, PostgreSQL), which can tell whether the
/// service is away for now rather than rejecting the request.
///
/// Workers treat an unavailable dependency as an outage: they wait and retry without counting a failed attempt
/// against the job, so a database restart dead-letters nothing.
public protocol DependencyError: Error {
    /// True when the service is unreachable, restarting or refusing work for now.
    var isUnavailable: Bool { get }
    /// True when no reply came at all (the connection could not be made or was lost), as opposed to a reply
    /// that refused the request (a full or read-only server).
    var isConnectionLost: Bool { get }
}
