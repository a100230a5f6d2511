/// The state of every queue at one moment, as `status` prints it.
public struct QueueSnapshot: Sendable {
    public struct Queue: Sendable {
        public var name: String
        public var ready: Int
        /// Jobs held by worker processes, live or awaiting recovery.
        public var active: Int
        public var delayed: Int
        public var dead: Int
        /// Counters since the queue was first used.
        public var enqueued: Int
        public var done: Int
        public var retried: Int
        public var failed: Int
        public var recovered: Int
        /// Age of the job that will run next, in ms; `nil` when ready is empty.
        public var oldestReadyAgeMillis: Int64?
        public var maxDelayMillis: Int64
        /// Flow control: the queue's pause, and its types that are limited, paused, held, open or have jobs
        /// waiting (``FlowTypeState``).
        public var flow: FlowQueueState

        /// True when the next job has waited longer than the queue allows, and the queue is not paused (a paused
        /// queue's jobs wait on purpose).
        public var isLate: Bool { flow.pausedUntil == nil && (oldestReadyAgeMillis ?? 0) > maxDelayMillis }

        /// Jobs waiting in flow control: for a slot, a token, a hold, a cool-down or a resume.
        public var waitingInFlow: Int { flow.types.reduce(0) { $0 + $1.waiting + $1.throttled } }

        /// Jobs kept by a pause: a paused queue's ready and delayed jobs, and the jobs of its paused types.
        public var paused: Int {
            flow.pausedUntil != nil ? ready + delayed + waitingInFlow : flow.types.filter { $0.pausedUntil != nil }.reduce(0) { $0 + $1.waiting }
        }

        /// True when nothing is left to run but what a pause keeps.
        var isIdleButPaused: Bool {
            active == 0 && (flow.pausedUntil != nil || (ready == 0 && delayed == 0 && waitingInFlow == paused))
        }
    }

    public var takenAt: Int64
    public var queues: [Queue]
    public var processes: [(record: WorkerProcessRecord, alive: Bool)]
    /// The latest events over all queues, newest first.
    public var events: [JobEvent]

    /// True when no job is ready, delayed, held, or waiting in flow control anywhere, except what a pause keeps.
    public var isIdle: Bool { queues.allSatisfy(\.isIdleButPaused) }
}
