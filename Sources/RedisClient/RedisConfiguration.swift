import Foundation
public import Parsing

/// Where and how to connect to Redis, usually parsed from a `redis://`, `rediss://` (TLS), `redis-sentinel://` or
/// `rediss-sentinel://` URL.
public struct RedisConfiguration: Sendable, Equatable {
    /// The server; empty with ``sentinel``, where each connection asks the Sentinels.
    public var host: String
    public var port: Int
    /// When set, the primary is asked of these Sentinels at every (re)connection, and a connection to a server that
    /// is no longer the primary is dropped, so the next command finds the new one.
    public var sentinel: SentinelURL?
    public var username: String?
    public var password: String?
    public var database: Int
    /// Set for TLS (`rediss://`, `rediss-sentinel://`): how to verify the server, and this client's certificate.
    public var tls: RedisTLSOptions?
    /// Bound on establishing the TCP connection (and the TLS handshake).
    public var connectTimeout: Duration
    /// Bound on waiting for any reply; must exceed the block time of blocking commands such as `BLMOVE`.
    public var commandTimeout: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
        database: Int = 0, tls: RedisTLSOptions? = nil, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`, `rediss://…[?tls options]` (see ``RedisTLSOptions``),
    /// or a ``SentinelURL``.
    public init(url: String) throws {
        if SentinelURL.isSentinelURL(url) {
            let sentinel: SentinelURL
            do {
                sentinel = try SentinelURL(url)
            } catch {
                throw RedisError(.configuration, "\(error.description) (in \(Self.redact(url)))")
            }
            self.init(username: sentinel.username, password: sentinel.password, database: sentinel.database, tls: sentinel.tls)
            self.sentinel = sentinel
            self.host = ""
            self.port = 0
            return
        }
        guard let components = URLComponents(string: url), components.scheme == "redis" || components.scheme == "rediss" else {
            throw RedisError(.configuration, """
                Redis URL must look like redis://[[user]:password@]host[:port][/db] (rediss:// for TLS) or \
                redis-sentinel://[[user]:password@]host:26379[,host:26379…]/primary-name[/db], got \(Self.redact(url))
                """)
        }
        self.init()
        if components.scheme == "rediss" { tls = RedisTLSOptions() }
        for item in components.queryItems ?? [] {
            do {
                if try tls?.take(item.name, item.value ?? "") == true { continue }
            } catch {
                throw RedisError(.configuration, "Redis URL: \(error.reason) (in \(Self.redact(url)))")
            }
            let reason = RedisTLSOptions.optionNames.contains(item.name)
                ? "\(item.name) is a TLS option: write the URL as rediss://… to use TLS"
                : "unknown option \"\(item.name)\"\(tls == nil ? " (a redis:// URL takes none)" : " (known: \(RedisTLSOptions.optionNames.joined(separator: ", ")))")"
            throw RedisError(.configuration, "Redis URL: \(reason) (in \(Self.redact(url)))")
        }
        do {
            try tls?.validate()
        } catch {
            throw RedisError(.configuration, "Redis URL: \(error.reason) (in \(Self.redact(url)))")
        }
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
        if SentinelURL.isSentinelURL(url) { return SentinelURL.redact(url) }
        guard var components = URLComponents(string: url) else { return "<unparseable Redis URL>" }
        guard components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "<unparseable URL>"
    }

    /// `host:port/db`, or with Sentinel `primary-name (host:port)/db`, for logs; " over TLS" when it is.
    public var endpointDescription: String {
        let overTLS = tls == nil ? "" : " over TLS"
        guard let sentinel else { return "\(host):\(port)/\(database)\(overTLS)" }
        let found = host.isEmpty ? "via Sentinel \(sentinel.sentinels.map(\.description).joined(separator: ","))" : "\(host):\(port)"
        return "\(sentinel.primaryName) (\(found))/\(database)\(overTLS)"
    }
}
