/// How a job a worker held ends up, written to Redis in one batch by ``QueueStore/settle(queue:holder:_:)``.
public struct Settlement: Sendable {
    public enum Kind: String, Sendable {
        /// Finished: removed from the active list.
        case done
        /// Failed with retries left: to the delayed set with a backoff.
        case retry
        /// Waiting out a dependency outage: to the delayed set, no attempt counted.
        case postpone
        /// Failed for good: to the dead-letter list.
        case dead
        /// Not run (shutdown): back to the head of its queue.
        case requeue
    }

    public var kind: Kind
    public var id: String
    /// The exact bytes the worker took from Redis, to find it in the active list. Empty for a part split off the
    /// job settled just before it in the same batch: written only if that job's outcome is.
    public var held: [UInt8]
    /// The envelope to store instead (retry, postpone, dead, requeue).
    public var replacement: [UInt8]?
    /// Due time in ms for retry and postpone.
    public var due: Int64?
    public var event: JobEvent?

    public init(kind: Kind, id: String, held: [UInt8], replacement: [UInt8]? = nil, due: Int64? = nil, event: JobEvent? = nil) {
        self.kind = kind
        self.id = id
        self.held = held
        self.replacement = replacement
        self.due = due
        self.event = event
    }
}
