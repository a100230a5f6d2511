import CSystemShims
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A command run for a job: started with `posix_spawn` in a process group of its own, with every signal at its
/// default disposition and none blocked, and watched by one thread of its own that ends with it.
///
/// Why by hand rather than Foundation's `Process`: a service's signal handling leaves SIGTERM and SIGINT ignored
/// (ServiceLifecycle listens through dispatch sources), and `Process` passes that on, so a command could not be
/// stopped; `Process` signals only the command, so its own children outlived a timeout and held its standard error
/// open, and the thread reading it stayed blocked, one more per timeout.
///
/// The watching thread writes the input, keeps the first 4 KiB of standard error, and reaps the command. On
/// cancellation the whole group gets SIGTERM, then SIGKILL after `terminationGrace`; once the command has exited
/// the group gets SIGKILL, so nothing it started survives. A grandchild that left the group and keeps standard error
/// open is not waited for longer than a second.
public final class ChildProcess: Sendable {
    /// How the command ended.
    public enum Termination: Equatable, Sendable {
        case exited(Int32)
        case signalled(Int32)
    }

    public struct Outcome: Sendable {
        public var termination: Termination
        /// The start of standard error (at most 4 KiB).
        public var standardError: [UInt8]
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let description: String
    }

    private let pid: pid_t
    private let inputFD: Int32
    private let errorFD: Int32
    private let cancelled = Atomic<Bool>(false)

    private init(pid: pid_t, inputFD: Int32, errorFD: Int32) {
        self.pid = pid
        self.inputFD = inputFD
        self.errorFD = errorFD
    }

    /// Runs `executable` with `arguments` and exactly `environment`, `input` on its standard input and its
    /// standard output discarded, and returns how it ended. Cancelling the task stops the command's whole group.
    public static func run(executable: String, arguments: [String], environment: [String: String], input: [UInt8],
                    terminationGrace: Duration = .seconds(2)) async throws -> Outcome {
        try Task.checkCancellation()
        let child = try spawn(executable: executable, arguments: arguments, environment: environment)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: child.supervise(input: input, terminationGrace: terminationGrace)) }
            }
        } onCancel: {
            child.cancelled.store(true, ordering: .releasing)
        }
    }

    private static func spawn(executable: String, arguments: [String], environment: [String: String]) throws -> ChildProcess {
        var input: [Int32] = [0, 0], errors: [Int32] = [0, 0]
        guard wooqueue_pipe_cloexec(&input) == 0 else { throw SpawnError(description: "cannot make a pipe: \(String(cString: strerror(errno)))") }
        guard wooqueue_pipe_cloexec(&errors) == 0 else {
            let reason = String(cString: strerror(errno))
            close(input[0]); close(input[1])
            throw SpawnError(description: "cannot make a pipe: \(reason)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        // Nothing else of wooqueue's reaches the command: not Redis's socket, not the listeners.
        wooqueue_spawn_close_from(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var everySignal = sigset_t(), noSignal = sigset_t()
        sigfillset(&everySignal)
        sigdelset(&everySignal, SIGKILL)
        sigdelset(&everySignal, SIGSTOP)
        sigemptyset(&noSignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setsigmask(&attributes, &noSignal)
        posix_spawnattr_setpgroup(&attributes, 0)  // a group of its own, named by the child's pid
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(input[0])
        close(errors[1])
        guard spawned == 0 else {
            close(input[1])
            close(errors[0])
            throw SpawnError(description: String(cString: strerror(spawned)))
        }
        _ = fcntl(input[1], F_SETFL, fcntl(input[1], F_GETFL) | O_NONBLOCK)
        _ = fcntl(errors[0], F_SETFL, fcntl(errors[0], F_GETFL) | O_NONBLOCK)
        return ChildProcess(pid: pid, inputFD: input[1], errorFD: errors[0])
    }

    /// The watching loop, on a thread of its own (it blocks in `poll`). Ends when the command has exited and its
    /// standard error is closed, or a second after the exit.
    private func supervise(input: [UInt8], terminationGrace: Duration) -> Outcome {
        // A write to a pipe the command closed must fail with EPIPE, not stop wooqueue with SIGPIPE.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)

        let clock = ContinuousClock()
        var inputOpen = !input.isEmpty, errorOpen = true
        if !inputOpen { close(inputFD) }
        var written = 0
        var standardError: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var status: Int32?
        var exitedAt: ContinuousClock.Instant?
        var terminatedAt: ContinuousClock.Instant?
        var groupKilled = false
        var idleRounds = 0

        while true {
            var watched: [pollfd] = []
            if inputOpen { watched.append(pollfd(fd: inputFD, events: Int16(POLLOUT), revents: 0)) }
            if errorOpen { watched.append(pollfd(fd: errorFD, events: Int16(POLLIN), revents: 0)) }
            // Short waits: an exit is noticed by polling `waitpid`, and a cancellation by reading its flag. With
            // no pipe left to watch, the wait grows from 0.25 ms (an exit right after the pipes close, the usual
            // case) to 20 ms (a command that closed them and runs on).
            if watched.isEmpty {
                usleep(UInt32(min(20_000, 250 << min(idleRounds, 7))))
                idleRounds += 1
            } else {
                _ = poll(&watched, nfds_t(watched.count), status == nil ? 20 : 2)
            }
            for entry in watched where entry.revents != 0 {
                if entry.fd == inputFD {
                    let count = input.withUnsafeBytes { bytes in
                        bytes.baseAddress.map { write(inputFD, $0 + written, input.count - written) } ?? 0
                    }
                    if count > 0 { written += count }
                    if written == input.count || (count < 0 && errno != EAGAIN && errno != EINTR) {
                        close(inputFD)
                        inputOpen = false
                    }
                } else {
                    let count = read(errorFD, &buffer, buffer.count)
                    if count > 0, standardError.count < 4096 { standardError += buffer.prefix(min(count, 4096 - standardError.count)) }
                    if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
                        close(errorFD)
                        errorOpen = false
                    }
                }
            }
            if status == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid {
                    status = raw
                    exitedAt = clock.now
                }
            }
            let cancelled = cancelled.load(ordering: .acquiring)
            if cancelled, status == nil {
                if let terminatedAt {
                    if !groupKilled, terminatedAt.duration(to: clock.now) >= terminationGrace {
                        kill(-pid, SIGKILL)
                        groupKilled = true
                    }
                } else {
                    kill(-pid, SIGTERM)
                    terminatedAt = clock.now
                }
            }
            if let exitedAt {
                // What the command started dies with it: on a timeout, and after a normal exit too.
                if !groupKilled {
                    kill(-pid, SIGKILL)
                    groupKilled = true
                }
                if !errorOpen || exitedAt.duration(to: clock.now) > .seconds(1) { break }
            }
        }
        if inputOpen { close(inputFD) }
        if errorOpen { close(errorFD) }
        let raw = status ?? 0
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
        let termination: Termination = raw & 0x7F == 0 ? .exited((raw >> 8) & 0xFF) : .signalled(raw & 0x7F)
        return Outcome(termination: termination, standardError: standardError)
    }
}
