import QueueCore

/// Maps job types to their handler and timeout.
public struct HandlerRegistry: Sendable {
    public struct Entry: Sendable {
        public let handler: any JobHandler
        public let timeout: Duration
    }

    private var entries: [String: Entry] = [:]

    /// An empty registry; see ``init(configuration:)`` for the configured one.
    public init() {}

    /// Handlers for every type in `jobTypes`, built from their `handler` setting.
    public init(configuration: WooqueueConfiguration) {
        for (name, type) in configuration.jobTypes {
            let handler: any JobHandler
            switch type.handler {
            case .noop: handler = NoopHandler()
            case .http: handler = HTTPHandler(url: type.url ?? "", headers: type.headers, timeout: type.timeout)
            case .exec: handler = ExecHandler(command: type.command ?? [], passing: type.environment)
            case .inventory: continue  // the Inventory module registers these with register(type:handler:timeout:)
            }
            register(type: name, handler: handler, timeout: type.timeout)
        }
    }

    /// Adds or replaces the handler of `type` (code-defined handlers such as inventory upserts).
    public mutating func register(type: String, handler: any JobHandler, timeout: Duration) {
        entries[type] = Entry(handler: handler, timeout: timeout)
    }

    public func entry(for type: String) -> Entry? { entries[type] }

    public var types: [String] { entries.keys.sorted() }

    /// The largest ``BatchJobHandler/batchLimit`` registered (1 without batch handlers): workers fetch up to this.
    public var largestBatch: Int { entries.values.compactMap { $0.batchHandler?.batchLimit }.max() ?? 1 }
}

extension HandlerRegistry.Entry {
    /// The handler as a batch handler, when it is one.
    var batchHandler: (any BatchJobHandler)? { handler as? any BatchJobHandler }
}
