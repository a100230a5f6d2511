/// The result of one statement, with every value in PostgreSQL's text format.
public struct PostgresRows: Sendable, Equatable {
    public let columns: [String]
    /// Row-major values; `nil` is SQL NULL.
    public let rows: [[String?]]
    /// Rows inserted, updated, deleted or returned, as the command tag reports it.
    public let affectedRows: Int

    public init(columns: [String], rows: [[String?]], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// The values of one named column.
    public func column(_ name: String) -> [String?] {
        guard let index = columns.firstIndex(of: name) else { return [] }
        return rows.map { $0[index] }
    }

    /// The first row's value of the first column, for `SELECT count(*)`-style queries.
    public var scalar: String? { rows.first?.first ?? nil }
}
