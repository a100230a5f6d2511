import ClientSupport

/// A failure talking to Redis: the server's error reply, or why the connection failed.
public struct RedisError: DependencyError, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection broke (server down, restarting, timeout).
        case connection
        /// The server answered with an error reply (`ERR …`, `NOSCRIPT …`, `OOM …`).
        case server
        /// A reply of a shape the caller did not expect.
        case unexpectedReply
        /// A bad URL or setting.
        case configuration
    }

    public let kind: Kind
    /// The server's message, or the client library's description of the failure.
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String {
        switch kind {
        case .connection: "Redis connection failed: \(message)"
        case .server: "Redis error: \(message)"
        case .unexpectedReply: "unexpected Redis reply: \(message)"
        case .configuration: message
        }
    }

    /// The first word of a server error (`NOSCRIPT`, `OOM`, `READONLY`, …).
    public var serverCode: String? {
        guard kind == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    /// True when Redis is away or cannot take writes now, as opposed to rejecting this request.
    ///
    /// Callers treat these as a dependency outage: wait and try again, without counting it against a job.
    public var isConnectionLost: Bool { kind == .connection }

    public var isUnavailable: Bool {
        switch kind {
        case .connection: return true
        case .server: return ["LOADING", "READONLY", "MASTERDOWN", "OOM", "BUSY", "TRYAGAIN", "CLUSTERDOWN"].contains(serverCode ?? "")
        case .unexpectedReply, .configuration: return false
        }
    }
}
