import Foundation
import QueueCore

/// Runs the type's command with the payload on standard input.
///
/// Exit 0 is done; exit 75 (`EX_TEMPFAIL`) is retried; any other exit dead-letters the job with the start of
/// standard error. The job's id, type, attempt and key are in `WOOQUEUE_JOB_ID`, `WOOQUEUE_JOB_TYPE`,
/// `WOOQUEUE_JOB_ATTEMPT` and `WOOQUEUE_JOB_KEY`. A cancelled job (timeout, shutdown) gets SIGTERM, then SIGKILL
/// two seconds later.
///
/// The command gets a clean environment: `PATH`, `HOME`, `LANG`, the `WOOQUEUE_JOB_*` variables, and the variables
/// the job type names (`jobTypes.<type>.env`). Nothing else of wooqueue's: not the webhook secret, the store's
/// keys or the database URL, which a command's error output would otherwise carry to `/admin`.
public struct ExecHandler: JobHandler {
    let command: [String]
    /// Names of this process's environment variables the command also gets.
    let passing: [String]

    /// Always passed on, when set: what a program needs to find its tools, files and language.
    static let basicVariables = ["PATH", "HOME", "LANG"]

    public init(command: [String], passing: [String] = []) {
        self.command = command
        self.passing = passing
    }

    /// The command's environment for `job`, taken from `inherited` (this process's).
    func environment(for job: JobEnvelope, inherited: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var environment: [String: String] = [:]
        for name in Self.basicVariables + passing { environment[name] = inherited[name] }
        environment["WOOQUEUE_JOB_ID"] = job.id
        environment["WOOQUEUE_JOB_TYPE"] = job.type
        environment["WOOQUEUE_JOB_ATTEMPT"] = String(job.attempt + 1)
        environment["WOOQUEUE_JOB_KEY"] = job.key ?? ""
        return environment
    }

    public func handle(_ job: JobContext) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.resolve(command[0]))
        process.arguments = Array(command.dropFirst())
        process.environment = environment(for: job.envelope)
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice

        let exit: (status: Int32, stderr: Data) = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // Resume once both the process has exited and its standard error is read to the end.
                let finished = DispatchGroup()
                let stderr = StderrExcerpt()
                finished.enter()
                process.terminationHandler = { _ in finished.leave() }
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: JobFailure.permanent("cannot start \(command[0]): \(error)"))
                    return
                }
                // Cancelled before it started: the cancellation handler found nothing to stop.
                if Task.isCancelled { process.terminate() }
                // Blocking pipe I/O runs on Dispatch threads: a child that does not read its input, or writes a
                // lot to standard error, must neither block a worker nor fill its pipe and stall.
                finished.enter()
                DispatchQueue.global().async {
                    stderr.drain(errors.fileHandleForReading)
                    finished.leave()
                }
                let payload = job.envelope.payload
                DispatchQueue.global().async {
                    try? input.fileHandleForWriting.write(contentsOf: payload)
                    try? input.fileHandleForWriting.close()
                }
                finished.notify(queue: .global()) {
                    continuation.resume(returning: (process.terminationStatus, stderr.data))
                }
            }
        } onCancel: {
            guard process.isRunning else { return }
            process.terminate()
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) {
                if process.isRunning { kill(pid, SIGKILL) }
            }
        }
        try Task.checkCancellation()
        switch exit.status {
        case 0:
            return
        case 75:
            throw JobFailure.transient("\(command[0]) exited 75 (temporary failure)\(Self.excerpt(exit.stderr))")
        default:
            let how = process.terminationReason == .uncaughtSignal ? "was killed by signal \(exit.status)" : "exited \(exit.status)"
            throw JobFailure.permanent("\(command[0]) \(how)\(Self.excerpt(exit.stderr))")
        }
    }

    /// The start of standard error, for the dead-letter entry.
    private static func excerpt(_ stderr: Data) -> String {
        let text = String(decoding: stderr.prefix(1000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "" : ": \(text.prefix(500))"
    }

    /// Keeps the first 4 KiB of a stream and discards the rest, reading to its end.
    private final class StderrExcerpt: @unchecked Sendable {
        // @unchecked Sendable: `data` is written by the one reading thread before the group it leaves lets
        // anyone read it.
        private(set) var data = Data()

        func drain(_ handle: FileHandle) {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                if data.count < 4096 { data.append(chunk.prefix(4096 - data.count)) }
            }
        }
    }

    /// Finds a bare program name on `PATH`, as a shell would.
    static func resolve(_ program: String) throws -> String {
        if program.contains("/") { return program }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw JobFailure.permanent("exec handler: \(program) is not on PATH (\(path)); use an absolute path in jobTypes.*.command")
    }
}
