import Foundation
public import Parsing

/// A position in the configuration tree: reads typed values and names the field in every error.
public struct ConfigNode: Sendable {
    public let value: JSONValue?
    /// Dotted path from the root, e.g. `queues.high.workers`.
    public let path: String

    public init(value: JSONValue?, path: String) {
        self.value = value
        self.path = path
    }

    public func child(_ key: String) -> ConfigNode {
        ConfigNode(value: value?[key], path: path.isEmpty ? key : "\(path).\(key)")
    }

    public var isPresent: Bool { value != nil && value != .null }

    /// The members of an object, in order; empty when absent.
    public func members() throws -> [(key: String, node: ConfigNode)] {
        guard isPresent else { return [] }
        guard case .object(let members) = value else { throw mismatch("an object") }
        return members.map { ($0.key, child($0.key)) }
    }

    /// Rejects members other than `allowed`, so a misspelt setting is not silently ignored.
    public func allowOnly(_ allowed: Set<String>) throws {
        for (key, _) in try members() where !allowed.contains(key) {
            let known = allowed.sorted().joined(separator: ", ")
            throw ConfigurationError("\(path.isEmpty ? key : "\(path).\(key)") is not a known setting (known here: \(known))")
        }
    }

    public func string(default fallback: String) throws -> String {
        guard isPresent else { return fallback }
        guard case .string(let text) = value else { throw mismatch("a string") }
        return text
    }

    /// One of a fixed set of words, or `fallback` when absent; any other word is an error that lists the set.
    public func choice<Choice: RawRepresentable & CaseIterable>(default fallback: Choice) throws -> Choice where Choice.RawValue == String {
        let word = try string(default: fallback.rawValue)
        guard let choice = Choice(rawValue: word) else {
            let known = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError("\(path) must be one of \(known), got \"\(word)\"")
        }
        return choice
    }

    public func optionalString() throws -> String? {
        guard isPresent else { return nil }
        guard case .string(let text) = value else { throw mismatch("a string") }
        return text
    }

    public func strings() throws -> [String]? {
        guard isPresent else { return nil }
        guard case .array(let elements) = value else { throw mismatch("an array of strings") }
        return try elements.map {
            guard case .string(let text) = $0 else { throw mismatch("an array of strings") }
            return text
        }
    }

    public func stringMap() throws -> [String: String] {
        var map: [String: String] = [:]
        for (key, node) in try members() { map[key] = try node.string(default: "") }
        return map
    }

    public func bool(default fallback: Bool) throws -> Bool {
        guard isPresent else { return fallback }
        guard case .bool(let flag) = value else { throw mismatch("true or false") }
        return flag
    }

    public func int(default fallback: Int, min: Int? = nil, max: Int? = nil) throws -> Int {
        guard isPresent else { return fallback }
        guard case .number(let number) = value, abs(number) < 1e15, let result = Int(exactly: number) else {
            throw mismatch("a whole number")
        }
        if let min, result < min { throw ConfigurationError("\(path) must be ≥ \(min), got \(result)") }
        if let max, result > max { throw ConfigurationError("\(path) must be ≤ \(max), got \(result)") }
        return result
    }

    public func double(default fallback: Double, min: Double, max: Double) throws -> Double {
        guard isPresent else { return fallback }
        guard case .number(let number) = value else { throw mismatch("a number") }
        guard number >= min, number <= max else { throw ConfigurationError("\(path) must be between \(min) and \(max), got \(number)") }
        return number
    }

    /// A duration written as `"250ms"`, `"30s"`, `"5m"`, `"1h"`, or a number of seconds.
    public func duration(default fallback: Duration, min: Duration = .zero) throws -> Duration {
        guard isPresent else { return fallback }
        let result: Duration
        switch value {
        case .number(let seconds):
            guard let parsed = DurationText.milliseconds(seconds: seconds) else {
                throw ConfigurationError("\(path) must be a number of seconds from 0 to \(DurationText.longestSeconds), got \(seconds)")
            }
            result = parsed
        case .string(let text):
            guard let parsed = DurationText.parse(text) else {
                throw ConfigurationError("\(path) must be a duration such as \"500ms\", \"30s\", \"5m\" or \"1h\", got \"\(text)\"")
            }
            result = parsed
        default:
            throw mismatch("a duration such as \"30s\"")
        }
        if result < min { throw ConfigurationError("\(path) must be at least \(DurationText.format(min)), got \(DurationText.format(result))") }
        return result
    }

    private func mismatch(_ expected: String) -> ConfigurationError {
        ConfigurationError("\(path) must be \(expected), got \(value?.kindName ?? "nothing")")
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
