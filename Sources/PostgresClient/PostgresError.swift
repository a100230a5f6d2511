public import ClientSupport

/// A failure talking to PostgreSQL: the server's error with its SQLSTATE, or why the connection failed.
public struct PostgresError: DependencyError, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection broke.
        case connection
        /// The server rejected a statement; ``sqlState`` says why.
        case server
    }

    public let kind: Kind
    /// The SQLSTATE code (`23505` unique violation, `57P01` admin shutdown, …), when the server sent one.
    public let sqlState: SQLState?
    public let message: String
    public let detail: String?
    public let hint: String?

    public init(_ kind: Kind, sqlState: SQLState? = nil, message: String, detail: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
    }

    public var description: String {
        var text = kind == .connection ? "PostgreSQL connection failed: \(message)" : "PostgreSQL error"
        if kind == .server {
            text += sqlState.map { " \($0): " } ?? ": "
            text += message
        }
        if let detail { text += " (\(detail))" }
        if let hint { text += " Hint: \(hint)" }
        return text
    }

    /// True when the database is away or refusing connections for now (SQLSTATE classes 08 and 57P0x, 53300),
    /// as opposed to rejecting this statement. Callers wait and retry without failing the job.
    public var isConnectionLost: Bool { kind == .connection }

    public var isUnavailable: Bool {
        if kind == .connection { return true }
        guard let sqlState else { return false }
        return sqlState.errorClass == .connectionException
            || [.adminShutdown, .crashShutdown, .cannotConnectNow, .tooManyConnections].contains(sqlState)
    }
}
