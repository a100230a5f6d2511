/// Builds PostgreSQL array literals (`{"a","b",NULL}`) for `unnest($1::text[])`, so a whole batch travels as a
/// few parameters of one statement.
struct PostgresArray {
    private var text = "{"
    private var empty = true

    init(capacity: Int = 0) {
        text.reserveCapacity(capacity)
    }

    mutating func append(_ value: String?) {
        if !empty { text.append(",") }
        empty = false
        guard let value else {
            text.append("NULL")
            return
        }
        text.append("\"")
        for character in value.unicodeScalars {
            if character == "\"" || character == "\\" { text.append("\\") }
            text.unicodeScalars.append(character)
        }
        text.append("\"")
    }

    /// The literal.
    var literal: String { text + "}" }
}
