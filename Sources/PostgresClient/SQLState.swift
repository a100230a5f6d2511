/// A PostgreSQL SQLSTATE code (`23505`), with the class its first two characters name. Code that decides by the
/// kind of an error asks ``errorClass`` or compares with the named codes here, never with string prefixes.
public struct SQLState: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The five characters, as the server sent them.
    public let code: String

    public init(_ code: String) {
        self.code = code
    }

    public init(stringLiteral code: String) {
        self.code = code
    }

    public var description: String { code }

    /// The classes wooqueue tells apart (PostgreSQL's Appendix A); any other is ``other``.
    public enum Class: String, Sendable {
        case connectionException = "08"
        case featureNotSupported = "0A"
        case dataException = "22"
        case integrityConstraintViolation = "23"
        case invalidSQLStatementName = "26"
        case invalidAuthorization = "28"
        case invalidCatalogName = "3D"
        case invalidSchemaName = "3F"
        case syntaxErrorOrAccessRuleViolation = "42"
        case insufficientResources = "53"
        case operatorIntervention = "57"
        case plpgsqlError = "P0"
        case internalError = "XX"
        case other
    }

    /// The class of the code: its first two characters.
    public var errorClass: Class { Class(rawValue: String(code.prefix(2))) ?? .other }

    public static let uniqueViolation: SQLState = "23505"
    public static let numericValueOutOfRange: SQLState = "22003"
    public static let invalidSQLStatementName: SQLState = "26000"
    public static let tooManyConnections: SQLState = "53300"
    public static let adminShutdown: SQLState = "57P01"
    public static let crashShutdown: SQLState = "57P02"
    public static let cannotConnectNow: SQLState = "57P03"
    public static let internalError: SQLState = "XX000"
}
