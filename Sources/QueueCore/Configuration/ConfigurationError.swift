/// A configuration problem, worded for the person who edits `config.json`: it names the field and what is wrong.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
