/// One Redis command: its name and binary-safe arguments.
public struct RedisCommand: Sendable {
    public private(set) var arguments: [[UInt8]]

    public init(_ name: String, _ arguments: String...) {
        self.arguments = [Array(name.utf8)] + arguments.map { Array($0.utf8) }
    }

    public init(_ name: String, arguments: [String]) {
        self.arguments = [Array(name.utf8)] + arguments.map { Array($0.utf8) }
    }

    public mutating func append(_ argument: String) {
        arguments.append(Array(argument.utf8))
    }

    public mutating func append(_ argument: [UInt8]) {
        arguments.append(argument)
    }

    public mutating func append(_ argument: Int) {
        arguments.append(Array(String(argument).utf8))
    }

    /// The command's name, for error messages.
    public var name: String { String(decoding: arguments.first ?? [], as: UTF8.self) }
}
