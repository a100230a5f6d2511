public import AppConfiguration
public import Foundation
import Parsing
public import QueueCore
import RedisClient

/// Where the test servers are, and helpers for isolating tests from each other.
///
/// Tests never skip: when a server is missing they fail, pointing at `scripts/services start`.
public enum TestEnvironment {
    public static var redisURL: String {
        ProcessInfo.processInfo.environment["WOOQUEUE_TEST_REDIS_URL"] ?? "redis://127.0.0.1:16379/0"
    }

    public static var databaseURL: String {
        ProcessInfo.processInfo.environment["WOOQUEUE_TEST_DATABASE_URL"]
            ?? "postgresql://wooqueue:wooqueue@127.0.0.1:15432/wooqueue_test"
    }

    /// The repository root, found from this file's path.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A key prefix no other test uses.
    public static func uniquePrefix(_ name: String) -> String {
        "wqtest-\(name)-\(String(UInt64.random(in: 0..<UInt64.max), radix: 36))"
    }

    /// A configuration on the test Redis under a fresh prefix, with `json` merged over the defaults
    /// (top-level sections replace the default ones).
    public static func configuration(prefix: String, _ json: String = "{}") throws -> WooqueueConfiguration {
        var root = try JSONValue.parse(Array(json.utf8))
        guard case .object(var members) = root else { fatalError("test configuration must be an object") }
        var redis: [(key: String, value: JSONValue)] = [("url", .string(redisURL)), ("keyPrefix", .string(prefix))]
        if case .object(let given) = root["redis"] { redis += given.filter { $0.key != "url" && $0.key != "keyPrefix" } }
        members.removeAll { $0.key == "redis" }
        members.append(("redis", .object(redis)))
        root = .object(members)
        return try WooqueueConfiguration.decode(root, environment: [:])
    }

    /// A store for `configuration`'s Redis and prefix.
    public static func store(_ configuration: WooqueueConfiguration, label: String = "test") throws -> QueueStore {
        QueueStore(connection: RedisConnection(configuration: try RedisConfiguration(url: configuration.redis.url), label: label),
                   prefix: configuration.redis.keyPrefix, statusRetention: configuration.workers.statusRetention,
                   eventsKept: configuration.workers.eventsKept, replicationWait: configuration.redis.replicationWait)
    }
}

/// A condition did not hold within its time limit.
public struct WaitTimeout: Error, CustomStringConvertible {
    public let description: String
}

/// Polls `condition` every `poll` until it holds; throws ``WaitTimeout`` with `what` after `timeout`.
public func waitUntil(
    _ what: @autoclosure () -> String, timeout: Duration = .seconds(10), poll: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { throw WaitTimeout(description: "timed out after \(timeout) waiting for \(what())") }
        try await Task.sleep(for: poll)
    }
}

/// Runs `body` with a configuration on a fresh key prefix (`name` plus a random part, with `json` for the other
/// sections) and a store for it. The prefix's keys are deleted afterwards, whether `body` returns or throws: the
/// one scoping helper of the integration tests.
public func withFreshQueue<Result>(
    _ name: String, _ json: String = "{}", _ body: (WooqueueConfiguration, QueueStore) async throws -> Result
) async throws -> Result {
    let configuration = try TestEnvironment.configuration(prefix: TestEnvironment.uniquePrefix(name), json)
    let store = try TestEnvironment.store(configuration)
    let result: Result
    do {
        result = try await body(configuration, store)
    } catch {
        _ = try? await store.deleteAllKeys()
        throw error
    }
    try await store.deleteAllKeys()
    return result
}
