import ArgumentParser
import CommandSupport
import QueueCore

extension QueueStore {
    /// Before a timed phase: waits, up to 5 minutes, while Redis writes a snapshot or rewrites its AOF, then, if
    /// the AOF has grown since its last rewrite (the benchmark's own queueing), rewrites it now and waits for that.
    /// Otherwise Redis's automatic rewrite starts a moment later, inside the phase, and its child process and
    /// copy-on-write faults take CPU from whatever is timed. A user refused `BGREWRITEAOF` (the README's ACL rule)
    /// is told that a rewrite may fall within the phase. Says what it waits for.
    func settlePersistence(progress: ProgressLines) async throws {
        try await waitWhilePersisting(progress: progress)
        guard try await persistenceState().aofHasGrown else { return }
        // Refused while an automatic rewrite began a moment ago: that one is waited for instead.
        if let refusal = try await rewriteAOF(), try await !persistenceState().isBusy {
            progress.say("Redis refused BGREWRITEAOF (\(refusal)); an automatic AOF rewrite may fall within the timed phase")
            return
        }
        try await waitWhilePersisting(progress: progress, rewriting: true)
    }

    private func waitWhilePersisting(progress: ProgressLines, rewriting: Bool = false) async throws {
        let deadline = ContinuousClock.now + .seconds(300)
        var said = false
        while try await persistenceState().isBusy {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("Redis has been writing a snapshot or rewriting its AOF for 5 minutes; run the benchmark when it has finished")
            }
            if !said {
                progress.say(rewriting ? "rewriting Redis's AOF, so that no automatic rewrite falls within the timed phase…"
                                       : "waiting for Redis to finish rewriting its AOF (or writing a snapshot)…")
            }
            said = true
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
