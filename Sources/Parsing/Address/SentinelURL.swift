/// A Redis primary found through Redis Sentinel, as `redis.url` writes it:
///
///     redis-sentinel://[[user]:password@]host[:port][,host[:port]…]/primary-name[/db][?sentinelUser=…&sentinelPassword=…]
///
/// The user and password are the primary's (the data nodes'); `sentinelUser` and `sentinelPassword` are the
/// Sentinels' own, when they require one. A port defaults to 26379. A host may be an IPv6 address in brackets.
/// `rediss-sentinel://` speaks TLS to the Sentinels and to the primary alike, with the options of
/// ``RedisTLSOptions`` in the same query.
/// URLComponents cannot read several hosts, hence this parser; it never traps, and every refusal says what is wrong.
public struct SentinelURL: Sendable, Equatable {
    public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public static let scheme = "redis-sentinel://"
    public static let tlsScheme = "rediss-sentinel://"
    public static let defaultPort = 26379

    public var sentinels: [Endpoint]
    /// The name the Sentinels monitor the primary under (`sentinel monitor <name> …`).
    public var primaryName: String
    public var database: Int
    public var username: String?
    public var password: String?
    public var sentinelUsername: String?
    public var sentinelPassword: String?
    /// Set for `rediss-sentinel://`: TLS to every Sentinel and to the primary.
    public var tls: RedisTLSOptions?

    /// True when `text` is meant as a Sentinel URL (either scheme), so that its errors speak of one.
    public static func isSentinelURL(_ text: String) -> Bool { text.hasPrefix(scheme) || text.hasPrefix(tlsScheme) }

    public init(_ text: String) throws(SentinelURLError) {
        let bytes = Array(text.utf8)
        let scheme: [UInt8]
        if bytes.starts(with: Array(Self.tlsScheme.utf8)) {
            scheme = Array(Self.tlsScheme.utf8)
            tls = RedisTLSOptions()
        } else if bytes.starts(with: Array(Self.scheme.utf8)) {
            scheme = Array(Self.scheme.utf8)
        } else {
            throw .init("it must start with \(Self.scheme) (or \(Self.tlsScheme) for TLS)")
        }
        let query = bytes.firstIndex(of: UInt8(ascii: "?"))
        let end = query ?? bytes.count
        guard let slash = bytes[scheme.count..<end].firstIndex(of: UInt8(ascii: "/")) else {
            throw .init("it must name the primary after the hosts, as in \(Self.scheme)host:26379/mymaster")
        }
        var hostsStart = scheme.count
        if let at = bytes[scheme.count..<slash].lastIndex(of: UInt8(ascii: "@")) {
            (username, password) = try Self.userInfo(bytes, scheme.count..<at)
            hostsStart = at + 1
        }
        sentinels = try Self.endpoints(bytes, hostsStart..<slash)

        let path = try Self.text(bytes, (slash + 1)..<end, "the path")
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.first, !name.isEmpty,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw .init("the path must be the primary's name (letters, digits, '.', '_', '-'), then optionally /db; got \"\(path)\"")
        }
        primaryName = String(name)
        database = 0
        if parts.count == 2 {
            guard parts[1].count <= 9, let db = Int(parts[1]), db >= 0 else { throw .init("the database must be a number ≥ 0, got \"\(parts[1])\"") }
            database = db
        }
        if let query { try readQuery(bytes, (query + 1)..<bytes.count) }
        do {
            try tls?.validate()
        } catch {
            throw .init(error.reason)
        }
    }

    /// The URL with every password (the primary's and the Sentinels') replaced by `***`, for logs and errors.
    /// Text that does not read as a Sentinel URL comes back as a placeholder, never as itself.
    public static func redact(_ text: String) -> String {
        guard let url = try? SentinelURL(text) else { return "<unreadable \(scheme) URL>" }
        var redacted = url.tls == nil ? scheme : tlsScheme
        if url.username != nil || url.password != nil {
            redacted += escaped(url.username ?? "") + (url.password == nil ? "" : ":***") + "@"
        }
        redacted += url.sentinels.map(\.description).joined(separator: ",") + "/\(url.primaryName)/\(url.database)"
        var query: [String] = []
        if let user = url.sentinelUsername { query.append("sentinelUser=\(escaped(user))") }
        if url.sentinelPassword != nil { query.append("sentinelPassword=***") }
        for (name, value) in url.tls?.queryPairs ?? [] { query.append("\(name)=\(escaped(value))") }
        return query.isEmpty ? redacted : redacted + "?" + query.joined(separator: "&")
    }

    /// `text` with every byte but ASCII letters, digits, `-`, `.` and `_` written as `%XX`.
    private static func escaped(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func userInfo(_ bytes: [UInt8], _ range: Range<Int>) throws(SentinelURLError) -> (String?, String?) {
        guard let colon = bytes[range].firstIndex(of: UInt8(ascii: ":")) else {
            let user = try text(bytes, range, "the user")
            return (user.isEmpty ? nil : user, nil)
        }
        let user = try text(bytes, range.lowerBound..<colon, "the user")
        return (user.isEmpty ? nil : user, try text(bytes, (colon + 1)..<range.upperBound, "the password"))
    }

    private static func endpoints(_ bytes: [UInt8], _ range: Range<Int>) throws(SentinelURLError) -> [Endpoint] {
        var endpoints: [Endpoint] = []
        var start = range.lowerBound
        while start <= range.upperBound {
            let end = bytes[start..<range.upperBound].firstIndex(of: UInt8(ascii: ",")) ?? range.upperBound
            endpoints.append(try endpoint(bytes, start..<end))
            start = end + 1
        }
        guard endpoints.count <= 32 else { throw .init("at most 32 Sentinels, got \(endpoints.count)") }
        return endpoints
    }

    private static func endpoint(_ bytes: [UInt8], _ range: Range<Int>) throws(SentinelURLError) -> Endpoint {
        // Taken as written, not percent-decoded: a host name has no use for escapes, and the redaction writes it back
        // as it is.
        guard let written = String(validating: bytes[range], as: UTF8.self) else { throw .init("a host is not UTF-8 text") }
        var host = Substring(written), portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw .init("an IPv6 host must end with ']', got \"\(written)\"") }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw .init("a port must follow ']' after ':', got \"\(written)\"") }
                portText = rest.dropFirst()
            }
        } else if let colon = host.firstIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && !$0.isWhitespace && !"/?#@,[]%".contains($0) }) else {
            throw .init("each Sentinel needs a host name or address, got \"\(written)\"")
        }
        var port = defaultPort
        if let portText {
            guard portText.count <= 5, let number = Int(portText), (1...65535).contains(number) else {
                throw .init("a port must be a number from 1 to 65535, got \"\(portText)\"")
            }
            port = number
        }
        return Endpoint(host: String(host), port: port)
    }

    private mutating func readQuery(_ bytes: [UInt8], _ range: Range<Int>) throws(SentinelURLError) {
        var start = range.lowerBound
        while start < range.upperBound {
            let end = bytes[start..<range.upperBound].firstIndex(of: UInt8(ascii: "&")) ?? range.upperBound
            let equals = bytes[start..<end].firstIndex(of: UInt8(ascii: "=")) ?? end
            let name = try Self.text(bytes, start..<equals, "a query name")
            let value = equals < end ? try Self.text(bytes, (equals + 1)..<end, "the value of \(name)") : ""
            switch name {
            case "sentinelUser": sentinelUsername = value.isEmpty ? nil : value
            case "sentinelPassword": sentinelPassword = value
            case "": break
            default:
                do {
                    if try tls?.take(name, value) == true { break }
                } catch {
                    throw .init(error.reason)
                }
                if RedisTLSOptions.optionNames.contains(name) {
                    throw .init("\(name) is a TLS option: write the URL as \(Self.tlsScheme)… to use TLS")
                }
                let known = ["sentinelUser", "sentinelPassword"] + (tls == nil ? [] : RedisTLSOptions.optionNames)
                throw .init("unknown option \"\(name)\" (known: \(known.joined(separator: ", ")))")
            }
            start = end + 1
        }
    }

    private static func text(_ bytes: [UInt8], _ range: Range<Int>, _ what: String) throws(SentinelURLError) -> String {
        do {
            return try PercentDecoding.decode(bytes, range, plusIsSpace: false)
        } catch {
            throw .init("\(what) is not valid: '%' must be followed by two hexadecimal digits, and the text must be UTF-8")
        }
    }
}

/// Why a `redis-sentinel://` URL was refused. It never holds a password.
public struct SentinelURLError: Error, CustomStringConvertible, Sendable, Equatable {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { "Redis Sentinel URL: \(reason)" }
}
