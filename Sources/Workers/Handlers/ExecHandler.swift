import ClientSupport
import Foundation
import QueueCore

/// Runs the type's command with the payload on standard input.
///
/// Exit 0 is done; exit 75 (`EX_TEMPFAIL`) is retried; any other exit dead-letters the job with the start of
/// standard error. The job's id, type, attempt and key are in `WOOQUEUE_JOB_ID`, `WOOQUEUE_JOB_TYPE`,
/// `WOOQUEUE_JOB_ATTEMPT` and `WOOQUEUE_JOB_KEY`. The command runs in a process group of its own, with default
/// signal dispositions and no signal blocked (``ChildProcess``): a cancelled job (timeout, shutdown) sends the whole
/// group SIGTERM, then SIGKILL two seconds later, and what the command leaves running when it exits is killed.
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

    /// The settings a type of this kind reads: `command` (required), `env`.
    static let settings: Set<String> = ["command", "env"]

    /// The handler of a type with `"handler": "exec"`.
    init(spec: HandlerSpec) throws {
        guard let command = try spec.settings.child("command").strings(), !command.isEmpty, !command[0].isEmpty else {
            throw ConfigurationError("\(spec.settings.path).command must be a non-empty array such as [\"/usr/local/bin/make-invoice\", \"--pdf\"] for the exec handler")
        }
        let names = try spec.settings.child("env").strings() ?? []
        if let bad = names.first(where: { $0.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) == nil }) {
            throw ConfigurationError("\(spec.settings.path).env must list environment variable names such as \"INVOICE_API_KEY\", got \"\(bad)\"")
        }
        self.init(command: command, passing: names)
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
        // The kind's factory refuses an empty command; a handler made in code gets an error here, not a trap.
        guard let program = command.first else { throw JobFailure.permanent("exec handler: the command is empty") }
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await ChildProcess.run(executable: try Self.resolve(program), arguments: Array(command.dropFirst()),
                                                 environment: environment(for: job.envelope), input: job.envelope.payload)
        } catch let error as ChildProcess.SpawnError {
            throw JobFailure.permanent("cannot start \(program): \(error)")
        }
        try Task.checkCancellation()
        let excerpt = Self.excerpt(outcome.standardError)
        switch outcome.termination {
        case .exited(0):
            return
        case .exited(75):
            throw JobFailure.transient("\(program) exited 75 (temporary failure)\(excerpt)")
        case .exited(let status):
            throw JobFailure.permanent("\(program) exited \(status)\(excerpt)")
        case .signalled(let signal):
            throw JobFailure.permanent("\(program) was killed by signal \(signal)\(excerpt)")
        }
    }

    /// The start of standard error, for the dead-letter entry.
    private static func excerpt(_ stderr: [UInt8]) -> String {
        let text = String(decoding: stderr.prefix(1000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "" : ": \(text.prefix(500))"
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
