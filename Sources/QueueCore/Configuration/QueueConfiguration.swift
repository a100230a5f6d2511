import Parsing

/// The job queue's own configuration: where Redis is, the queues, the job types, how workers behave and back off.
/// The executable decodes it from `config.json` (with every other module's section) and hands it over.
public struct QueueConfiguration: Sendable {
    public var redis: RedisSettings
    public var workers: WorkerSettings
    public var backoff: BackoffSettings
    /// Queues from the highest priority to the lowest.
    public var queues: [QueueSettings]
    public var jobTypes: [String: JobTypeSettings]

    public init(redis: RedisSettings, workers: WorkerSettings, backoff: BackoffSettings, queues: [QueueSettings],
                jobTypes: [String: JobTypeSettings]) {
        self.redis = redis
        self.workers = workers
        self.backoff = backoff
        self.queues = queues
        self.jobTypes = jobTypes
    }

    public struct RedisSettings: Sendable {
        /// `redis://[:password@]host:port/db`; overridden by `WOOQUEUE_REDIS_URL`.
        public var url: String
        /// First part of every key (`wq:{high}:ready`); lets several installations share one Redis.
        public var keyPrefix: String
        /// Start even when Redis may evict keys (`maxmemory-policy` other than `noeviction`). Jobs can then be lost.
        public var allowEviction: Bool
        /// `redis.waitReplicas` and `redis.waitTimeout`; `nil` when no replica is waited for (the default).
        public var replicationWait: ReplicationWait?

        public init(url: String, keyPrefix: String, allowEviction: Bool, replicationWait: ReplicationWait? = nil) {
            self.url = url
            self.keyPrefix = keyPrefix
            self.allowEviction = allowEviction
            self.replicationWait = replicationWait
        }
    }

    public struct WorkerSettings: Sendable {
        /// How often a worker process renews its heartbeat.
        public var heartbeatInterval: Duration
        /// How long a heartbeat lives; a process silent for this long is dead and its jobs are recovered.
        public var processTimeout: Duration
        /// How often each process looks for dead processes.
        public var recoveryInterval: Duration
        /// Recoveries after which a job is dead-lettered instead of run again (it keeps killing workers).
        public var maxRecoveries: Int
        /// How long in-flight jobs may run after SIGTERM/SIGINT before they are returned to their queue.
        public var shutdownGrace: Duration
        /// Most jobs one worker takes from Redis in one round trip when the queue is busy.
        public var fetchBatch: Int
        /// How often due delayed jobs and retries are moved to their ready list.
        public var schedulerInterval: Duration
        /// How long a job's status stays readable by id after its last change.
        public var statusRetention: Duration
        /// How many events each queue's log keeps.
        public var eventsKept: Int
        /// The longest a dependency's `Retry-After` may hold a job type (`workers.maxRetryAfter`).
        public var maxRetryAfter: Duration
        /// Which jobs write an event to their queue's log (`workers.events`).
        public var events: EventDetail
        /// Which status changes are written by job id (`workers.jobStatus`).
        public var jobStatus: StatusDetail

        /// `workers.events`: `all` logs every outcome; `failures` leaves out the `done` of a job that succeeded, for
        /// speed (the counters still count it).
        public enum EventDetail: String, Sendable, CaseIterable {
            case all, failures
        }

        /// `workers.jobStatus`: `all` writes each change (pending, processing, then the outcome); `outcomes` leaves
        /// out `processing`, for speed: a running job reads `pending` until its outcome.
        public enum StatusDetail: String, Sendable, CaseIterable {
            case all, outcomes
        }

        public init(heartbeatInterval: Duration, processTimeout: Duration, recoveryInterval: Duration,
                    maxRecoveries: Int, shutdownGrace: Duration, fetchBatch: Int, schedulerInterval: Duration,
                    statusRetention: Duration, eventsKept: Int, maxRetryAfter: Duration = .seconds(900),
                    events: EventDetail = .all, jobStatus: StatusDetail = .all) {
            self.heartbeatInterval = heartbeatInterval
            self.processTimeout = processTimeout
            self.recoveryInterval = recoveryInterval
            self.maxRecoveries = maxRecoveries
            self.shutdownGrace = shutdownGrace
            self.fetchBatch = fetchBatch
            self.schedulerInterval = schedulerInterval
            self.statusRetention = statusRetention
            self.eventsKept = eventsKept
            self.maxRetryAfter = maxRetryAfter
            self.events = events
            self.jobStatus = jobStatus
        }
    }

    public struct BackoffSettings: Sendable {
        public var base: Duration
        public var factor: Double
        public var cap: Duration
        /// Random spread applied to each delay, as a fraction: 0.1 means ±10 %.
        public var jitter: Double

        public init(base: Duration, factor: Double, cap: Duration, jitter: Double) {
            self.base = base
            self.factor = factor
            self.cap = cap
            self.jitter = jitter
        }
    }

    public struct QueueSettings: Sendable {
        public var name: String
        /// Concurrent jobs per worker process.
        public var workers: Int
        /// Retries after the first attempt, for job types that do not set their own.
        public var retries: Int
        /// How long a job may wait before the queue counts as late.
        public var maxDelay: Duration

        public init(name: String, workers: Int, retries: Int, maxDelay: Duration) {
            self.name = name
            self.workers = workers
            self.retries = retries
            self.maxDelay = maxDelay
        }
    }

    /// A job type: its queue, its handler kind and the queue-level settings every type has. What the handler itself
    /// reads (an `http` handler's URL, an `exec` handler's command) stays in ``settings``, for the handler kind's
    /// factory to read and check (Workers' `HandlerKinds`).
    public struct JobTypeSettings: Sendable {
        /// The keys every type has; the others belong to its handler.
        public static let commonKeys: Set<String> = Set(["queue", "handler", "timeout", "retries"]).union(flowKeys)
        /// The keys of ``flow``.
        public static let flowKeys: Set<String> = ["concurrency", "concurrencyKey", "rateLimit", "burst", "rateLimitKey", "breaker"]

        public var name: String
        public var queue: String
        /// The handler kind, as registered (`noop`, `http`, `exec`, or a kind another module registers).
        public var handler: String
        public var timeout: Duration
        /// Retries after the first attempt; `nil` takes the queue's.
        public var retries: Int?
        /// The handler's own settings: the type's members other than ``commonKeys``, at `jobTypes.<name>`.
        public var settings: ConfigNode
        /// Its concurrency and rate limits and its breaker.
        public var flow: FlowLimits

        public init(name: String, queue: String, handler: String, timeout: Duration, retries: Int?,
                    settings: ConfigNode, flow: FlowLimits = FlowLimits()) {
            self.name = name
            self.queue = queue
            self.handler = handler
            self.timeout = timeout
            self.retries = retries
            self.settings = settings
            self.flow = flow
        }
    }

    /// The types with a limit or a breaker, by name.
    public var limitedTypes: [String: JobTypeSettings] { jobTypes.filter { !$0.value.flow.isEmpty } }

    public func queue(named name: String) -> QueueSettings? {
        queues.first { $0.name == name }
    }

    /// Attempts allowed for a job of `type` on `queue`: one plus the type's or else the queue's retries.
    public func maxAttempts(type: String, queue: String) -> Int {
        let retries = jobTypes[type]?.retries ?? self.queue(named: queue)?.retries ?? 0
        return retries + 1
    }
}
