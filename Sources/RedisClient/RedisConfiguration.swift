import Foundation

/// Where and how to connect to Redis, usually parsed from a `redis://` URL.
public struct RedisConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// Bound on establishing the TCP connection.
    public var connectTimeout: Duration
    /// Bound on waiting for any reply; must exceed the block time of blocking commands such as `BLMOVE`.
    public var commandTimeout: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
        database: Int = 0, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`.
    public init(url: String) throws {
        guard let components = URLComponents(string: url), components.scheme == "redis" else {
            throw RedisError(.configuration, "Redis URL must look like redis://[:password@]host[:port][/db], got \(Self.redact(url))")
        }
        self.init()
        self.host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        if self.host.hasPrefix("["), self.host.hasSuffix("]") { self.host = String(self.host.dropFirst().dropLast()) }
        self.port = components.port ?? 6379
        let user = components.percentEncodedUser?.removingPercentEncoding
        self.username = (user?.isEmpty ?? true) ? nil : user
        self.password = components.percentEncodedPassword?.removingPercentEncoding
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else {
                throw RedisError(.configuration, "Redis URL database must be a number ≥ 0, got '\(path)'")
            }
            self.database = db
        }
    }

    /// The URL with any password replaced by `***`, safe for logs and error messages.
    public static func redact(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<unparseable Redis URL>" }
        guard components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "<unparseable URL>"
    }

    /// `host:port/db`, for logs.
    public var endpointDescription: String { "\(host):\(port)/\(database)" }
}
