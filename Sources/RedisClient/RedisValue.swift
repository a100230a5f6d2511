/// A reply from Redis, copied out of hiredis's reply object.
public enum RedisValue: Sendable, Equatable {
    case null
    case integer(Int)
    /// A bulk string: binary-safe bytes.
    case bulk([UInt8])
    /// A simple status reply such as `OK`.
    case status(String)
    /// An error reply inside a pipeline or array; single commands throw ``RedisError`` instead.
    case error(String)
    case array([RedisValue])

    /// The value as text, for bulk and status replies.
    public var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    public var bytes: [UInt8]? {
        if case .bulk(let bytes) = self { return bytes }
        return nil
    }

    /// Integer replies, and bulk strings holding a decimal integer (as `HGET` of a counter returns).
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .bulk(let bytes): Int(String(decoding: bytes, as: UTF8.self))
        default: nil
        }
    }

    public var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// An `HGETALL` reply of counters as a dictionary; fields whose value is not an integer are left out.
    public var integerFields: [String: Int] {
        let pairs = array ?? []
        var fields: [String: Int] = [:]
        for index in stride(from: 0, to: pairs.count - 1, by: 2) {
            if let name = pairs[index].string, let value = pairs[index + 1].int { fields[name] = value }
        }
        return fields
    }

    /// An `HGETALL` reply as a dictionary of texts; fields whose value is not text are left out.
    public var stringFields: [String: String] {
        let pairs = array ?? []
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: pairs.count - 1, by: 2) {
            if let name = pairs[index].string, let value = pairs[index + 1].string { fields[name] = value }
        }
        return fields
    }

    /// Throws the error an `.error` element carries; returns `self` otherwise.
    public func checked() throws -> RedisValue {
        if case .error(let message) = self { throw RedisError(.server, message) }
        return self
    }
}
