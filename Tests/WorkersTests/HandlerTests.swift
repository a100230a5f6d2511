import Foundation
import HTTPTypes
import Logging
import Synchronization
import PostgresClient
import QueueCore
import RedisClient
import TestSupport
import Testing
@testable import Workers

@Suite(.serialized) struct HandlerTests {
    @Test func httpHandlerPostsThePayloadAndClassifiesStatuses() async throws {
        let server = try await TestHTTPServer.start { number in
            switch number {
            case 1: (.ok, "fine")
            case 2: (.serviceUnavailable, "maintenance")
            default: (.notFound, "no such endpoint, see the docs at example.com/very/long/path")
            }
        }
        defer { server.stop() }
        let harness = try WorkerHarness(#"""
            {"queues": {"high": {"workers": 1, "retries": 0}},
             "jobTypes": {"mail": {"queue": "high", "handler": "http", "url": "\#(server.url)", "headers": {"Authorization": "Bearer t0k3n"}}}}
            """#)
        let jobs = (1...3).map { harness.job("mail", payload: #"{"order": \#($0)}"#, key: "order-\($0)") }
        try await harness.store.enqueue([jobs[0]])
        try await harness.run { _ in
            try await harness.waitFor("high", done: 1)
            try await harness.store.enqueue([jobs[1]])
            try await harness.waitFor("high", done: 1, dead: 1)
            try await harness.store.enqueue([jobs[2]])
            try await harness.waitFor("high", done: 1, dead: 2)
        }
        let first = try #require(server.requests.first)
        #expect(first.body == #"{"order": 1}"#)
        #expect(first.headers["content-type"] == "application/json")
        #expect(first.headers["authorization"] == "Bearer t0k3n")
        #expect(first.headers["x-wooqueue-job-id"] == jobs[0].id)
        #expect(first.headers["x-wooqueue-attempt"] == "1")
        let letters = Dictionary(uniqueKeysWithValues: try await harness.store.deadLetters(queue: "high").map { ($0.envelope!.key!, $0.envelope!) })
        #expect(letters["order-2"]?.lastError?.contains("HTTP 503: maintenance") == true)
        #expect(letters["order-2"]?.lastError?.contains("attempt") == false, "the reason is the server's answer")
        #expect(letters["order-3"]?.lastError?.contains("HTTP 404: no such endpoint") == true)
        try await harness.cleanup()
    }

    @Test func httpStatusClassesFollowTheDesign() async throws {
        let server = try await TestHTTPServer.start { number in
            [(.requestTimeout, ""), (.tooManyRequests, ""), (.internalServerError, ""), (.badRequest, "")][min(number - 1, 3)]
        }
        defer { server.stop() }
        let handler = HTTPHandler(url: server.url, timeout: .seconds(5))
        let context = JobContext(envelope: JobEnvelope(type: "t", queue: "q", maxAttempts: 1), logger: .init(label: "t"))
        var kinds: [JobFailure.Kind] = []
        for _ in 0..<4 {
            do { try await handler.handle(context) } catch let failure as JobFailure { kinds.append(failure.kind) }
        }
        #expect(kinds == [.transient, .transient, .transient, .permanent])
        let refused = HTTPHandler(url: "http://127.0.0.1:1/none", timeout: .seconds(2))
        let error = await #expect(throws: JobFailure.self) { try await refused.handle(context) }
        #expect(error?.kind == .transient)
    }

    /// The client followed redirects anywhere, taking the type's headers along: a receiver (or whoever took over
    /// its address) could send the ERP's bearer token to another origin. A 3xx is now a permanent failure that
    /// says where it pointed, and nothing is sent there.
    @Test func aRedirectIsNotFollowedAndTheHeadersGoNowhereElse() async throws {
        let elsewhere = try await TestHTTPServer.start { _ in (.ok, "thanks") }
        defer { elsewhere.stop() }
        let redirecting = try await TestHTTPServer.start(headers: { _ in [.location: elsewhere.url] }) { _ in (.temporaryRedirect, "") }  // 307 keeps the POST
        defer { redirecting.stop() }
        let handler = HTTPHandler(url: redirecting.url, headers: ["Authorization": "Bearer erp-secret"], timeout: .seconds(5))
        let context = JobContext(envelope: JobEnvelope(type: "t", queue: "q", maxAttempts: 1), logger: .init(label: "t"))
        let failure = await #expect(throws: JobFailure.self) { try await handler.handle(context) }
        #expect(failure?.kind == .permanent)
        #expect(failure?.description.contains("HTTP 307") == true && failure?.description.contains("redirects are not followed") == true)
        #expect(redirecting.requests.first?.headers["authorization"] == "Bearer erp-secret")
        #expect(elsewhere.requests.isEmpty, "nothing, and no Authorization header, went to the other origin")
    }

    /// Exec jobs inherited every secret in wooqueue's environment (the webhook secret, the store's keys, the
    /// database URL), and their error output then showed on `/admin`. The command now gets PATH, HOME, LANG, the
    /// job's variables and the ones its type names, nothing else.
    @Test func anExecCommandGetsACleanEnvironment() async throws {
        setenv("WQ_TEST_LEAKED_SECRET", "wooqueue-secret", 1)
        setenv("INVOICE_API_KEY", "the-invoice-key", 1)
        defer { unsetenv("WQ_TEST_LEAKED_SECRET"); unsetenv("INVOICE_API_KEY") }
        let script = #"echo "secret=${WQ_TEST_LEAKED_SECRET:-unset} key=${INVOICE_API_KEY:-unset} id=${WOOQUEUE_JOB_ID:-unset} path=${PATH:+set} count=$(env | grep -vc '^_=')" >&2; exit 3"#
        let handler = ExecHandler(command: ["/bin/sh", "-c", script], passing: ["INVOICE_API_KEY"])
        let job = JobEnvelope(type: "invoice", queue: "q", maxAttempts: 1)
        let failure = await #expect(throws: JobFailure.self) { try await handler.handle(JobContext(envelope: job, logger: .init(label: "t"))) }
        let message = failure?.description ?? ""
        #expect(message.contains("secret=unset"), "\(message)")
        #expect(message.contains("key=the-invoice-key") && message.contains("id=\(job.id)") && message.contains("path=set"), "\(message)")
        let count = Int(message.split(separator: "count=").last?.prefix { $0.isNumber } ?? "") ?? 99
        #expect(count <= 9, "the command saw \(count) variables: PATH, HOME, LANG, PWD/SHLVL from the shell, four WOOQUEUE_JOB_*, INVOICE_API_KEY")
    }


    @Test func execHandlerRunsTheCommandWithThePayloadOnStdin() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-exec-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let harness = try WorkerHarness(#"""
            {"queues": {"medium": {"workers": 1, "retries": 0}},
             "jobTypes": {
               "invoice": {"queue": "medium", "handler": "exec", "command": ["sh", "-c", "cat > \#(directory.path)/$WOOQUEUE_JOB_KEY.json"]},
               "later": {"queue": "medium", "handler": "exec", "command": ["sh", "-c", "echo 'ERP busy' >&2; exit 75"]},
               "broken": {"queue": "medium", "handler": "exec", "command": ["sh", "-c", "echo 'no such order' >&2; exit 3"]},
               "missing": {"queue": "medium", "handler": "exec", "command": ["/nonexistent/program"]},
               "deaf": {"queue": "medium", "handler": "exec", "command": ["true"]}}}
            """#)
        try await harness.store.enqueue([
            harness.job("invoice", payload: #"{"order": "727", "total": "101.33"}"#, key: "727"),
            harness.job("later", key: "later"), harness.job("broken", key: "broken"), harness.job("missing", key: "missing"),
            // A command that exits without reading a 1 MiB payload: EPIPE, not a SIGPIPE that kills the worker.
            harness.job("deaf", payload: #"{"blob": "\#(String(repeating: "x", count: 1 << 20))"}"#, key: "deaf"),
        ])
        try await harness.run { _ in
            try await harness.waitFor("medium", done: 2, dead: 3)
        }
        #expect(try String(contentsOf: directory.appendingPathComponent("727.json"), encoding: .utf8) == #"{"order": "727", "total": "101.33"}"#)
        let reasons = Dictionary(uniqueKeysWithValues: try await harness.store.deadLetters(queue: "medium").map { ($0.envelope!.key!, $0.envelope!.lastError!) })
        #expect(reasons["later"]?.contains("exited 75 (temporary failure): ERP busy") == true)
        #expect(try await harness.queue("medium").retried == 0, "retries 0: the temporary failure went straight to dead after its only attempt")
        #expect(reasons["broken"]?.contains("exited 3: no such order") == true)
        #expect(reasons["missing"]?.contains("cannot start /nonexistent/program") == true)
        try await harness.cleanup()
    }

    /// Runs `command` as an exec job in a task, waits (bounded) until it has written `marker`, and returns the task.
    private func startedExecJob(_ command: [String], marker: String) async throws -> Task<Void, any Error> {
        let handler = ExecHandler(command: command)
        let context = JobContext(envelope: JobEnvelope(type: "t", queue: "q", maxAttempts: 1), logger: .init(label: "t"))
        let task = Task { try await handler.handle(context) }
        try await waitUntil("the command to start", timeout: .seconds(10)) { FileManager.default.fileExists(atPath: marker) }
        return task
    }

    /// Whether a process is gone (or dead and waiting to be reaped by whoever adopted it).
    private func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

    /// A timeout stopped only the command: what it started lived on (and held its standard error). Now the whole
    /// process group goes.
    @Test func aTimeoutKillsTheCommandsWholeProcessGroup() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-exec-group-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let task = try await startedExecJob(["sh", "-c", "sleep 60 & echo $! > \(directory)/grandchild; echo $$ > \(directory)/command; wait"],
                                            marker: "\(directory)/command")
        let pids = try ["grandchild", "command"].map { name in
            try #require(Int32(String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        task.cancel()
        try await waitUntil("the command and its child to be gone", timeout: .seconds(5)) { pids.allSatisfy(isGone) }
        await #expect(throws: (any Error).self) { try await task.value }
    }

    /// `serve` and `work` leave SIGTERM and SIGINT ignored (ServiceLifecycle listens for them through dispatch
    /// sources), and a command used to inherit that, so its timeout could not stop it. A command now starts with
    /// every signal at its default and none blocked.
    @Test func anExecCommandStartsWithDefaultSignalsAndNoneBlocked() async throws {
        let previous = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, previous) }
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        var before = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &before)
        defer { pthread_sigmask(SIG_SETMASK, &before, nil) }
        let handler = ExecHandler(command: ["/bin/sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status >&2; exit 3"])
        let failure = await #expect(throws: JobFailure.self) {
            try await handler.handle(JobContext(envelope: JobEnvelope(type: "t", queue: "q", maxAttempts: 1), logger: .init(label: "t")))
        }
        let message = failure?.description ?? ""
        func mask(_ name: String) -> UInt64? {
            guard let label = message.range(of: "\(name):\t") else { return nil }
            return UInt64(message[label.upperBound...].prefix(16), radix: 16)
        }
        // Signals 1–31, the ones commands use. (32 and 33 are glibc's own, which posix_spawn leaves alone.)
        let standard: UInt64 = 0x7FFF_FFFF
        #expect(mask("SigBlk") == 0, "\(message)")
        #expect(mask("SigIgn").map { $0 & standard } == 0, "no standard signal is ignored: \(message)")
    }

    /// Each timeout used to leave a thread blocked on the standard error that the command's children held open.
    /// 100 timeouts, 10 at a time: afterwards the process has as many threads as before, and every job ended
    /// promptly.
    @Test func timeoutsLeakNoThreads() async throws {
        func threads() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-exec-threads-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func round(_ number: Int) async throws {
            let ended = Counter()
            var tasks: [Task<Void, any Error>] = []
            for index in 0..<10 {
                let marker = "\(directory)/\(number)-\(index)"
                tasks.append(try await startedExecJob(["sh", "-c", "sleep 60 & touch \(marker); sleep 60"], marker: marker))
            }
            for task in tasks {
                task.cancel()
                Task { _ = try? await task.value; ended.add() }
            }
            try await waitUntil("10 cancelled exec jobs to end", timeout: .seconds(10)) { ended.value == 10 }
        }
        try await round(0)  // warm-up: the runtime's own threads start
        let before = try threads()
        for number in 1...10 { try await round(number) }
        try await waitUntil("the thread count to come back to \(before)", timeout: .seconds(10)) { try threads() <= before + 2 }
    }
}

/// A count that tasks increase and a test polls.
private final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
