/// How to speak TLS to Redis, read from the query of a `rediss://` or `rediss-sentinel://` URL:
///
///     rediss://user:password@redis.example:6380/0?caFile=/etc/wooqueue/redis-ca.pem&certFile=…&keyFile=…
///
/// - `caFile`: the PEM certificates to trust; without it, the system's trusted CAs (as managed services need).
/// - `certFile`, `keyFile`: this client's certificate chain and key, for mutual TLS; both or neither.
/// - `serverName`: the name to send (SNI) and to verify, when it is not the host in the URL (for example when
///   connecting by address, or when Sentinel names the primary by address).
/// - `verifyHostname=false`: accept a certificate that the trusted CA signed for another name. The chain is still
///   verified. On by default; turning it off lets anyone with a certificate from that CA pose as Redis.
public struct RedisTLSOptions: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var serverName: String?
    public var verifyHostname = true

    public static let optionNames = ["caFile", "certFile", "keyFile", "serverName", "verifyHostname"]

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, serverName: String? = nil,
                verifyHostname: Bool = true) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.verifyHostname = verifyHostname
    }

    /// Takes one query option. Returns false when `name` is none of ``optionNames``; throws the reason when its
    /// value is not acceptable.
    public mutating func take(_ name: String, _ value: String) throws(RedisTLSOptionsError) -> Bool {
        switch name {
        case "caFile": caFile = try Self.path(name, value)
        case "certFile": certFile = try Self.path(name, value)
        case "keyFile": keyFile = try Self.path(name, value)
        case "serverName":
            guard !value.isEmpty, value.utf8.count <= 253,
                  value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:".contains($0)) }) else {
                throw .init("serverName must be a host name or address (letters, digits, '.', '-', ':'), got \"\(value)\"")
            }
            serverName = value
        case "verifyHostname":
            switch value {
            case "true": verifyHostname = true
            case "false": verifyHostname = false
            default: throw .init("verifyHostname must be true or false, got \"\(value)\"")
            }
        default:
            return false
        }
        return true
    }

    /// Checks the options together, once all are taken.
    public func validate() throws(RedisTLSOptionsError) {
        if (certFile == nil) != (keyFile == nil) {
            throw .init("certFile and keyFile go together (the client certificate and its key, for mutual TLS); got only \(certFile == nil ? "keyFile" : "certFile")")
        }
    }

    /// The options as `name=value` pairs, for writing a URL back (none is secret: files are named, not read).
    public var queryPairs: [(String, String)] {
        var pairs: [(String, String)] = []
        if let caFile { pairs.append(("caFile", caFile)) }
        if let certFile { pairs.append(("certFile", certFile)) }
        if let keyFile { pairs.append(("keyFile", keyFile)) }
        if let serverName { pairs.append(("serverName", serverName)) }
        if !verifyHostname { pairs.append(("verifyHostname", "false")) }
        return pairs
    }

    private static func path(_ name: String, _ value: String) throws(RedisTLSOptionsError) -> String {
        guard value.hasPrefix("/"), !value.utf8.contains(0) else {
            throw .init("\(name) must be an absolute file path, got \"\(value)\"")
        }
        return value
    }
}

/// Why a TLS option of a Redis URL was refused.
public struct RedisTLSOptionsError: Error, CustomStringConvertible, Sendable, Equatable {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
