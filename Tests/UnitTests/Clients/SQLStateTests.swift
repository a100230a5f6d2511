import PostgresClient
import Testing

/// SQLSTATE codes as a type, without a server.
@Suite struct SQLStateTests {
    /// Decisions by an error's kind read typed codes: a SQLSTATE's class, a Redis reply's code.
    @Test func errorCodesAreTyped() {
        #expect(SQLState("23505").errorClass == .integrityConstraintViolation && SQLState("23505") == .uniqueViolation)
        #expect(SQLState("22003").errorClass == .dataException && SQLState("08006").errorClass == .connectionException)
        #expect(SQLState("ZZ999").errorClass == .other && SQLState("").errorClass == .other)
        #expect(PostgresError(.server, sqlState: "08006", message: "x").isUnavailable)
        #expect(PostgresError(.server, sqlState: .adminShutdown, message: "x").isUnavailable)
        #expect(!PostgresError(.server, sqlState: .uniqueViolation, message: "x").isUnavailable)
    }
}
