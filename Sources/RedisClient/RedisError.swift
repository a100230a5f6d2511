public import ClientSupport

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

    /// The kinds of error reply wooqueue tells apart, by the first word Redis puts in them.
    public enum ServerCode: String, Sendable {
        case loading = "LOADING"
        case readOnly = "READONLY"
        /// A blocked command was ended because the server's role changed (a failover demoted it).
        case unblocked = "UNBLOCKED"
        case masterDown = "MASTERDOWN"
        case outOfMemory = "OOM"
        case busy = "BUSY"
        case tryAgain = "TRYAGAIN"
        case clusterDown = "CLUSTERDOWN"
        case noScript = "NOSCRIPT"
        case wrongPassword = "WRONGPASS"
        case noPermission = "NOPERM"

        /// The code of an error reply's text; `nil` for another (`ERR …`).
        public init?(reply message: some StringProtocol) {
            self.init(rawValue: String(message.prefix { $0 != " " }))
        }

        /// Redis is away or cannot take writes now, as opposed to rejecting this request.
        var meansUnavailable: Bool {
            switch self {
            case .loading, .readOnly, .unblocked, .masterDown, .outOfMemory, .busy, .tryAgain, .clusterDown: true
            case .noScript, .wrongPassword, .noPermission: false
            }
        }
    }

    /// The code of a server error (`NOSCRIPT`, `OOM`, `READONLY`, …); `nil` for another error.
    public var serverCode: ServerCode? {
        guard kind == .server else { return nil }
        return ServerCode(reply: message)
    }

    public var isConnectionLost: Bool { kind == .connection }

    /// True when Redis is away or cannot take writes now, as opposed to rejecting this request.
    ///
    /// Callers treat these as a dependency outage: wait and try again, without counting it against a job.
    public var isUnavailable: Bool {
        switch kind {
        case .connection: return true
        case .server: return serverCode?.meansUnavailable ?? false
        case .unexpectedReply, .configuration: return false
        }
    }
}
