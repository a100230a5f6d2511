import PostgresClient
import RedisClient
import Testing
@testable import Workers

/// How a handler's error becomes a failure class, without a server.
@Suite struct FailureClassTests {
    @Test func anUnreachableDatabaseOrRedisIsAnOutageNotAFailedAttempt() {
        #expect(QueueWorker.classify(PostgresError(.connection, message: "connection refused")).kind == .dependencyUnavailable)
        #expect(QueueWorker.classify(PostgresError(.server, sqlState: "57P01", message: "terminating connection")).kind == .dependencyUnavailable)
        #expect(QueueWorker.classify(PostgresError(.server, sqlState: "23505", message: "duplicate key")).kind == .transient)
        #expect(QueueWorker.classify(RedisError(.server, "LOADING Redis is loading the dataset")).kind == .dependencyUnavailable)
        #expect(QueueWorker.classify(JobFailure.permanent("bad")).kind == .permanent)
    }
}
