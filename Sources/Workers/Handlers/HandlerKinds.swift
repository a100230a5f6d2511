import Foundation
public import QueueCore

/// What a handler kind's factory gets for one job type.
public struct HandlerSpec: Sendable {
    /// The job type's name (`send_order_email`).
    public let type: String
    /// How long one call may take.
    public let timeout: Duration
    /// The type's own handler settings (`jobTypes.<type>` without queue, handler, timeout and retries); reading
    /// them through ``ConfigNode`` names the field in every error.
    public let settings: ConfigNode
}

/// The open registry of handler kinds: a kind's name (`http`) → the factory that makes a type's handler from that
/// type's settings. A new handler is a type conforming to ``JobHandler`` and one registration:
///
/// ```swift
/// var kinds = HandlerKinds.builtIn
/// try kinds.register("slack", settings: ["channel"]) { spec in SlackHandler(channel: try spec.settings.child("channel").string(default: "#ops")) }
/// let registry = try kinds.registry(for: configuration.jobTypes)
/// ```
///
/// `jobTypes.<type>.handler` then names the kind. Registering a name twice is an error; so is a type whose kind
/// is unknown, or which carries a setting its kind does not read.
public struct HandlerKinds: Sendable {
    public typealias Factory = @Sendable (HandlerSpec) throws -> any JobHandler

    private struct Kind: Sendable {
        let settings: Set<String>
        let factory: Factory
    }

    private var kinds: [String: Kind] = [:]

    /// No kind at all; see ``builtIn``.
    public init() {}

    /// `noop`, `http` and `exec`.
    public static var builtIn: HandlerKinds {
        var kinds = HandlerKinds()
        // The names are distinct, so these registrations cannot fail.
        try? kinds.register("noop") { _ in NoopHandler() }
        try? kinds.register("http", settings: HTTPHandler.settings, factory: HTTPHandler.init(spec:))
        try? kinds.register("exec", settings: ExecHandler.settings, factory: ExecHandler.init(spec:))
        return kinds
    }

    /// Adds the kind `name`, whose job types may carry `settings` besides the common ones.
    public mutating func register(_ name: String, settings: Set<String> = [], factory: @escaping Factory) throws {
        guard kinds[name] == nil else { throw HandlerKindError.duplicate(name) }
        kinds[name] = Kind(settings: settings, factory: factory)
    }

    /// The registered kinds, sorted.
    public var names: [String] { kinds.keys.sorted() }

    /// The handler of every type in `jobTypes`, each made by its kind's factory.
    public func registry(for jobTypes: [String: QueueConfiguration.JobTypeSettings]) throws -> HandlerRegistry {
        var registry = HandlerRegistry()
        for (name, type) in jobTypes.sorted(by: { $0.key < $1.key }) {
            guard let kind = kinds[type.handler] else {
                throw ConfigurationError("jobTypes.\(name).handler must be one of \(names.joined(separator: ", ")), got \"\(type.handler)\"")
            }
            try type.settings.allowOnly(kind.settings.union(QueueConfiguration.JobTypeSettings.commonKeys))
            let handler = try kind.factory(HandlerSpec(type: name, timeout: type.timeout, settings: type.settings))
            registry.register(type: name, handler: handler, timeout: type.timeout, flow: type.flow)
        }
        return registry
    }
}

public enum HandlerKindError: Error, CustomStringConvertible {
    case duplicate(String)

    public var description: String {
        switch self {
        case .duplicate(let name): "a handler kind named \"\(name)\" is already registered: choose another name"
        }
    }
}
