public import QueueCore

/// Maps job types to their handler and timeout.
public struct HandlerRegistry: Sendable {
    public struct Entry: Sendable {
        public let handler: any JobHandler
        public let timeout: Duration
        /// The type's limits and breaker (``FlowLimits``); empty when it has none.
        public let flow: FlowLimits
    }

    private var entries: [String: Entry] = [:]

    /// An empty registry; ``HandlerKinds/registry(for:)`` makes the configured one.
    public init() {}

    /// Adds or replaces the handler of `type`, with its flow limits.
    public mutating func register(type: String, handler: any JobHandler, timeout: Duration, flow: FlowLimits = FlowLimits()) {
        entries[type] = Entry(handler: handler, timeout: timeout, flow: flow)
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
