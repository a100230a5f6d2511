import ClientSupport
import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// One connection to PostgreSQL over libpq.
///
/// The URL is handed to libpq as it is (`postgresql://user:pw@host:port/db?sslmode=require&…`), so every libpq
/// parameter works. Every libpq call runs on the connection's own ``BlockingQueue``, never on the cooperative pool.
/// The connection opens lazily and re-opens after it breaks: the statement that finds it broken throws a
/// `.connection` error and the next one reconnects. Statements always use parameters (`$1`, `$2`, …); values travel
/// separately from the SQL text.
public final class PostgresConnection: @unchecked Sendable {
    // @unchecked Sendable: `connection` is only touched inside `io.run` / `io.sync`, which run serially.
    private var connection: OpaquePointer?
    /// Statements prepared on the current server session (``query(prepared:_:_:)``); emptied when it closes.
    private var preparedNames: Set<String> = []
    private let io: BlockingQueue
    private let url: String
    private let connectTimeoutSeconds: Int
    private let settings: [String: String]

    /// - Parameters:
    ///   - url: a libpq connection URI or key=value string; its parameters (sslmode, connect_timeout, …) win.
    ///   - label: names the connection's queue in debuggers.
    ///   - connectTimeoutSeconds: used when the URL sets no `connect_timeout`.
    ///   - settings: server settings for the session (`statement_timeout`: `"60s"`), applied at every (re)connect
    ///     unless the URL's `options` sets its own.
    public init(url: String, label: String = "postgres", connectTimeoutSeconds: Int = 5, settings: [String: String] = [:]) {
        self.url = url
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.settings = settings
        self.io = BlockingQueue(label: "wooqueue.postgres.\(label)")
    }

    deinit {
        if let connection { PQfinish(connection) }
    }

    /// Runs one parameterised statement.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PostgresRows {
        try await io.run { try PostgresSession(connection: self.connected()).query(sql, parameters) }
    }

    /// Runs a statement the server parses and plans once per session: it is prepared under `name` on first use
    /// (and again after a reconnect), then only executed. For a statement run again and again with new values,
    /// this saves the server its parse and plan time. `name` must always stand for the same SQL. A server that
    /// lost the statement (a pooler in between handing us another session) gets it prepared again, once.
    @discardableResult
    public func query(prepared name: String, _ sql: String, _ parameters: [String?] = []) async throws -> PostgresRows {
        try await io.run {
            let session = PostgresSession(connection: try self.connected())
            if !self.preparedNames.contains(name) {
                try session.prepare(name: name, sql, parameterCount: parameters.count)
                self.preparedNames.insert(name)
            }
            do {
                return try session.executePrepared(name: name, parameters)
            } catch let error as PostgresError where error.sqlState == .invalidSQLStatementName {
                try session.prepare(name: name, sql, parameterCount: parameters.count)
                return try session.executePrepared(name: name, parameters)
            }
        }
    }

    /// Runs `body` with the connection in one hop to the I/O queue; its statements run back to back.
    public func withSession<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await io.run { try body(PostgresSession(connection: self.connected())) }
    }

    /// Runs `body` inside `BEGIN … COMMIT`; any error rolls back and is rethrown.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await io.run {
            let session = PostgresSession(connection: try self.connected())
            try session.execute("BEGIN")
            do {
                let result = try body(session)
                try session.execute("COMMIT")
                return result
            } catch {
                if PQstatus(session.connection) == CONNECTION_OK { _ = try? session.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// Closes the connection now; a later call opens a new one.
    public func close() async {
        _ = try? await io.run { self.disconnect() }
    }

    // MARK: - On the I/O queue

    private func connected() throws -> OpaquePointer {
        if let connection {
            if PQstatus(connection) == CONNECTION_OK { return connection }
            disconnect()
        }
        // Keywords are applied in order and the expanded URL comes last, so its own parameters override ours.
        // TCP keepalives notice a dead peer in about a minute instead of the kernel's two hours.
        // Session settings travel as `options=-c name=value`, escaped as libpq wants (backslash before spaces).
        let options = settings.sorted { $0.key < $1.key }
            .map { setting in
                var escaped = ""
                for character in setting.value {
                    if character == "\\" || character == " " { escaped.append("\\") }
                    escaped.append(character)
                }
                return "-c \(setting.key)=\(escaped)"
            }
            .joined(separator: " ")
        let keywords = ["connect_timeout", "application_name", "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "options", "dbname"]
        let values = [String(connectTimeoutSeconds), "wooqueue", "1", "30", "10", "3", options, url]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(.connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = String(cString: PQerrorMessage(connection)).trimmingWhitespace()
            PQfinish(connection)
            throw PostgresError(.connection, message: reason, hint: "Is PostgreSQL running and the database URL right? (scripts/services start)")
        }
        self.connection = connection
        return connection
    }

    private func disconnect() {
        if let connection { PQfinish(connection) }
        connection = nil
        preparedNames = []
    }
}

/// The connection inside ``PostgresConnection/withSession(_:)`` or ``PostgresConnection/transaction(_:)``.
///
/// Its methods block; use it only inside the closure it was given to, which already runs on the I/O queue.
public struct PostgresSession {
    let connection: OpaquePointer

    /// Runs one statement with text parameters (`nil` is NULL).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> PostgresRows {
        let result = withOptionalCStrings(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try rows(of: result)
    }

    func prepare(name: String, _ sql: String, parameterCount: Int) throws {
        _ = try rows(of: PQprepare(connection, name, sql, Int32(parameterCount), nil))
    }

    func executePrepared(name: String, _ parameters: [String?]) throws -> PostgresRows {
        let result = withOptionalCStrings(parameters) { values in
            PQexecPrepared(connection, name, Int32(parameters.count), values, nil, nil, 0)
        }
        return try rows(of: result)
    }

    /// Runs SQL without parameters; it may hold several statements separated by semicolons (migrations).
    @discardableResult
    public func execute(_ sql: String) throws -> PostgresRows {
        try rows(of: PQexec(connection, sql))
    }

    /// Runs `COPY … FROM STDIN` with `data` in the format the statement names (text by default); returns the rows
    /// copied.
    @discardableResult
    public func copyIn(_ sql: String, data: [UInt8]) throws -> Int {
        guard let start = PQexec(connection, sql) else {
            throw PostgresError(.connection, message: String(cString: PQerrorMessage(connection)).trimmingWhitespace())
        }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            defer { PQclear(start) }
            throw error(of: start)
        }
        PQclear(start)
        var sent = true
        data.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count, sent {
                let size = min(1 << 20, buffer.count - offset)
                sent = buffer.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: size) {
                    PQputCopyData(connection, $0, Int32(size)) == 1
                }
                offset += size
            }
        }
        let ended = PQputCopyEnd(connection, sent ? nil : "wooqueue could not send the data") == 1
        // The COPY's own result, then NULL.
        var outcome: Result<PostgresRows, any Error> = .failure(PostgresError(.connection, message: "COPY ended without a result"))
        while let result = PQgetResult(connection) {
            outcome = Result { try rows(of: result) }
        }
        if !ended || !sent {
            throw PostgresError(.connection, message: String(cString: PQerrorMessage(connection)).trimmingWhitespace())
        }
        return try outcome.get().affectedRows
    }

    private func rows(of result: OpaquePointer?) throws -> PostgresRows {
        guard let result else {
            throw PostgresError(.connection, message: String(cString: PQerrorMessage(connection)).trimmingWhitespace())
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            break
        default:
            throw error(of: result)
        }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            rows.append((0..<Int32(columnCount)).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? rowCount
        return PostgresRows(columns: columns, rows: rows, affectedRows: affected)
    }

    private func error(of result: OpaquePointer) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let sqlState = field(UInt8(ascii: "C")).map { SQLState($0) }
        if PQstatus(connection) != CONNECTION_OK {
            return PostgresError(.connection, sqlState: sqlState, message: String(cString: PQerrorMessage(connection)).trimmingWhitespace())
        }
        return PostgresError(
            .server, sqlState: sqlState,
            message: field(UInt8(ascii: "M")) ?? String(cString: PQresultErrorMessage(result)).trimmingWhitespace(),
            detail: field(UInt8(ascii: "D")), hint: field(UInt8(ascii: "H")))
    }
}

// MARK: - C string helpers

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    var pointers = duplicates.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    if strings.isEmpty { return body(nil) }
    let duplicates = strings.map { $0.map { strdup($0) } ?? nil }
    defer { duplicates.forEach { free($0) } }
    let pointers = duplicates.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        return String(scalars)
    }
}
