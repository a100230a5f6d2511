import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite struct PostgresConnectionTests {
    let url = TestEnvironment.databaseURL

    /// A table of its own for each test, dropped afterwards.
    func withTable(_ body: (PostgresConnection, String) async throws -> Void) async throws {
        let db = PostgresConnection(url: url)
        let table = "t_" + TestEnvironment.uniquePrefix("pg").replacingOccurrences(of: "-", with: "_")
        try await db.query("CREATE TABLE \(table) (id int PRIMARY KEY, name text, qty int)")
        do {
            try await body(db, table)
        } catch {
            _ = try? await db.query("DROP TABLE \(table)")
            throw error
        }
        try await db.query("DROP TABLE \(table)")
    }

    @Test func parameterisedStatementsKeepValuesOutOfTheSQL() async throws {
        try await withTable { db, table in
            let hostile = "Robert'); DROP TABLE \(table);--"
            let inserted = try await db.query("INSERT INTO \(table) (id, name, qty) VALUES ($1, $2, $3), ($4, $5, $6)",
                                              ["1", hostile, "5", "2", "Café ☕", nil])
            #expect(inserted.affectedRows == 2)
            let rows = try await db.query("SELECT id, name, qty FROM \(table) ORDER BY id")
            #expect(rows.columns == ["id", "name", "qty"])
            #expect(rows.rows == [["1", hostile, "5"], ["2", "Café ☕", nil]])
        }
    }

    @Test func serverErrorsCarrySQLState() async throws {
        try await withTable { db, table in
            try await db.query("INSERT INTO \(table) (id) VALUES ($1)", ["1"])
            let error = await #expect(throws: PostgresError.self) {
                try await db.query("INSERT INTO \(table) (id) VALUES ($1)", ["1"])
            }
            #expect(error?.sqlState == "23505")
            #expect(error?.kind == .server)
            #expect(error?.isUnavailable == false)
            #expect(error?.description.contains("duplicate key") == true)
            // The connection is still usable after a statement error.
            #expect(try await db.query("SELECT count(*) FROM \(table)").scalar == "1")
        }
    }

    @Test func transactionsCommitOrRollBackAsAWhole() async throws {
        try await withTable { db, table in
            try await db.transaction { session in
                try session.query("INSERT INTO \(table) (id) VALUES ($1)", ["1"])
                try session.query("INSERT INTO \(table) (id) VALUES ($1)", ["2"])
            }
            await #expect(throws: PostgresError.self) {
                try await db.transaction { session in
                    try session.query("INSERT INTO \(table) (id) VALUES ($1)", ["3"])
                    try session.query("INSERT INTO \(table) (id) VALUES ($1)", ["1"])  // duplicate: the whole transaction goes
                }
            }
            #expect(try await db.query("SELECT string_agg(id::text, ',' ORDER BY id) FROM \(table)").scalar == "1,2")
        }
    }

    @Test func reconnectsAfterTheServerDropsTheSession() async throws {
        let db = PostgresConnection(url: url)
        let pid = try #require(try await db.query("SELECT pg_backend_pid()").scalar)
        let admin = PostgresConnection(url: url)
        #expect(try await admin.query("SELECT pg_terminate_backend($1::int)", [pid]).scalar == "t")
        let error = await #expect(throws: PostgresError.self) { try await db.query("SELECT 1") }
        #expect(error?.isUnavailable == true)
        #expect(try await db.query("SELECT 1").scalar == "1")
        #expect(try await db.query("SELECT pg_backend_pid()").scalar != pid)
    }

    @Test func preparedStatementsSurviveReconnectsAndLostSessions() async throws {
        try await withTable { db, table in
            let insert = "INSERT INTO \(table) (id, name) VALUES ($1, $2) RETURNING name"
            #expect(try await db.query(prepared: "test_insert", insert, ["1", "one"]).scalar == "one")
            #expect(try await db.query("SELECT count(*) FROM pg_prepared_statements WHERE name = 'test_insert'").scalar == "1")
            #expect(try await db.query(prepared: "test_insert", insert, ["2", "two"]).scalar == "two")
            // The session ends: the statement is prepared again on the new one.
            let pid = try #require(try await db.query("SELECT pg_backend_pid()").scalar)
            #expect(try await PostgresConnection(url: url).query("SELECT pg_terminate_backend($1::int)", [pid]).scalar == "t")
            await #expect(throws: PostgresError.self) { try await db.query(prepared: "test_insert", insert, ["3", "three"]) }
            #expect(try await db.query(prepared: "test_insert", insert, ["3", "three"]).scalar == "three")
            // The server forgets it without the connection noticing (as behind a pooler): prepared again, once.
            try await db.query("DEALLOCATE ALL")
            #expect(try await db.query(prepared: "test_insert", insert, ["4", "four"]).scalar == "four")
            #expect(try await db.query("SELECT string_agg(name, ',' ORDER BY id) FROM \(table)").scalar == "one,two,three,four")
        }
    }

    @Test func urlParametersPassThroughToLibpq() async throws {
        let separator = url.contains("?") ? "&" : "?"
        let db = PostgresConnection(url: url + separator + "sslmode=disable&application_name=wq-param-test")
        #expect(try await db.query("SELECT current_setting('application_name')").scalar == "wq-param-test")

        let required = PostgresConnection(url: url + separator + "sslmode=require")
        let error = await #expect(throws: PostgresError.self) { try await required.query("SELECT 1") }
        #expect(error?.kind == .connection, "the local test server has no TLS, so sslmode=require must be refused")
    }

    @Test func badPasswordIsAClearConnectionError() async throws {
        let wrong = url.replacingOccurrences(of: "wooqueue:wooqueue@", with: "wooqueue:not-the-password@")
        let error = await #expect(throws: PostgresError.self) { try await PostgresConnection(url: wrong).query("SELECT 1") }
        #expect(error?.kind == .connection)
        #expect(error?.message.contains("password authentication failed") == true)
    }
}
