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

        /// True when the next job has waited longer than the queue allows.
        public var isLate: Bool { (oldestReadyAgeMillis ?? 0) > maxDelayMillis }
    }

    public var takenAt: Int64
    public var queues: [Queue]
    public var processes: [(record: WorkerProcessRecord, alive: Bool)]
    /// The latest events over all queues, newest first.
    public var events: [JobEvent]

    /// True when no job is ready, delayed or held anywhere.
    public var isIdle: Bool { queues.allSatisfy { $0.ready == 0 && $0.delayed == 0 && $0.active == 0 } }
}
