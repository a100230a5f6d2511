import AppConfiguration
import Foundation
import Parsing
import QueueCore
import TestSupport

/// Runs the built `wooqueue` executable with a test configuration file.
struct CommandRunner {
    let configPath: String
    let configuration: WooqueueConfiguration

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The executable: `WOOQUEUE_BIN`, else the debug build next to this package.
    static var executable: String {
        if let path = ProcessInfo.processInfo.environment["WOOQUEUE_BIN"] { return path }
        return TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/wooqueue").path
    }

    /// Writes `json` (with the test Redis, or `redisURL`, and a fresh key prefix, or `prefix` to share another
    /// runner's keys) to a temporary config file of its own.
    init(_ json: String, prefix: String = TestEnvironment.uniquePrefix("cli"), redisURL: String = TestEnvironment.redisURL) throws {
        var root = try JSONValue.parse(Array(json.utf8))
        guard case .object(var members) = root else { fatalError("config must be an object") }
        members.removeAll { $0.key == "redis" }
        members.append(("redis", .object([("url", .string(redisURL)), ("keyPrefix", .string(prefix))])))
        // Every serve also opens the admin listener: on a port of the system's choosing unless the test names one,
        // so that two processes (or a busy 8081) never collide.
        let adminIndex = members.firstIndex { $0.key == "admin" }
        var admin: [(key: String, value: JSONValue)] = []
        if let adminIndex, case .object(let given) = members[adminIndex].value { admin = given }
        if !admin.contains(where: { $0.key == "port" }) { admin.append(("port", .number(0))) }
        if let adminIndex { members.remove(at: adminIndex) }
        members.append(("admin", .object(admin)))
        root = .object(members)
        configuration = try WooqueueConfiguration.decode(root, environment: [:])
        configPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString).json").path
        try Data(Self.serialize(root).utf8).write(to: URL(fileURLWithPath: configPath))
    }

    var store: QueueStore { get throws { try TestEnvironment.store(configuration) } }

    /// Starts `wooqueue <arguments> --config <file>` without waiting.
    func start(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments + ["--config", configPath]
        // The test's configuration file decides: no override from the environment `make test` runs in.
        var environment = ProcessInfo.processInfo.environment
        for name in ["WOOQUEUE_REDIS_URL", "WOOQUEUE_DATABASE_URL", "WOOQUEUE_WEBHOOK_SECRET", "WOOQUEUE_WOO_URL", "WOOQUEUE_WOO_KEY",
                     "WOOQUEUE_WOO_SECRET", "WOOQUEUE_HTTP_HOST", "WOOQUEUE_HTTP_PORT", "WOOQUEUE_CONFIG",
                     "WOOQUEUE_METRICS_TOKEN", "WOOQUEUE_ALERT_WEBHOOK_URL", "WOOQUEUE_ADMIN_HOST", "WOOQUEUE_ADMIN_PORT",
                     "WOOQUEUE_ADMIN_TOKEN", "WOOQUEUE_ADMIN_PASSWORD"] {
            environment.removeValue(forKey: name)
        }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// Runs a command to completion (bounded by `timeout`) and returns its output.
    func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> Output {
        let (process, out, err) = try start(arguments)
        // Drain the pipes while it runs so a chatty command cannot block on a full pipe.
        async let stdout = readToEnd(out)
        async let stderr = readToEnd(err)
        do {
            try await waitUntil("wooqueue \(arguments.joined(separator: " ")) to exit", timeout: timeout) { !process.isRunning }
        } catch {
            kill(process.processIdentifier, SIGKILL)  // never leave a stuck command behind
            throw error
        }
        return Output(status: process.terminationStatus, stdout: String(decoding: await stdout, as: UTF8.self),
                      stderr: String(decoding: await stderr, as: UTF8.self))
    }

    func cleanup() async throws {
        try await store.deleteAllKeys()
        try? FileManager.default.removeItem(atPath: configPath)
    }

    private static func serialize(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number): return number == number.rounded() ? String(Int64(number)) : String(number)
        case .string(let text):
            var bytes: [UInt8] = []
            JSONWriter.appendString(text, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        case .array(let elements): return "[" + elements.map(serialize).joined(separator: ",") + "]"
        case .object(let members): return "{" + members.map { serialize(.string($0.key)) + ":" + serialize($0.value) }.joined(separator: ",") + "}"
        }
    }
}
