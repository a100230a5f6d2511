public import Foundation

/// What a libpq connection string says about the way to the server, for the start-up warning on an unverified
/// connection over the network.
public enum PostgresTransport {
    /// A warning when `connection` (a `postgresql://` URL or libpq's `key=value` form) reaches a host that is not
    /// this one without verifying the server's certificate (`sslmode` other than `verify-ca`/`verify-full`), so
    /// the password and the inventory cross the network readable or to an impostor; `nil` otherwise.
    /// `PGHOST` and `PGSSLMODE` apply where the string sets nothing, as in libpq.
    public static func unverifiedNetworkWarning(_ connection: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let settings = parameters(connection)
        let hosts = (settings["host"] ?? environment["PGHOST"] ?? "").split(separator: ",").map { String($0) }
        let mode = settings["sslmode"] ?? environment["PGSSLMODE"] ?? "prefer"
        let remote = hosts.filter { host in !(host.isEmpty || host.hasPrefix("/") || isLoopback(host)) }
        guard !remote.isEmpty, mode != "verify-ca", mode != "verify-full" else { return nil }
        return """
            the database at \(remote.joined(separator: ",")) is reached with sslmode=\(mode), which does not verify the \
            server's certificate: add sslmode=verify-full&sslrootcert=/path/to/ca.pem to database.url
            """
    }

    /// The host(s) and `sslmode` of a connection string.
    static func parameters(_ connection: String) -> [String: String] {
        var result: [String: String] = [:]
        if connection.hasPrefix("postgresql://") || connection.hasPrefix("postgres://"), let scheme = connection.range(of: "://") {
            // libpq allows several hosts (`h1:5432,h2:5432`), which URLComponents cannot read: take the part
            // between `@` (or `//`) and the path by hand.
            let rest = connection[scheme.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            let hostList = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
            result["host"] = hostList.split(separator: ",").map { hostName(String($0)) }.joined(separator: ",")
            if let query = rest.firstIndex(of: "?") {
                for pair in rest[rest.index(after: query)...].split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                    if parts.count == 2 { result[parts[0]] = parts[1] }
                }
            }
            if result["host"] == "" { result["host"] = nil }
        } else {
            for pair in connection.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { result[parts[0]] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
            }
        }
        return result
    }

    /// A host without its port; `[::1]:5432` gives `::1`.
    private static func hostName(_ hostPort: String) -> String {
        let decoded = hostPort.removingPercentEncoding ?? hostPort
        if decoded.hasPrefix("["), let end = decoded.firstIndex(of: "]") { return String(decoded[decoded.index(after: decoded.startIndex)..<end]) }
        return String(decoded.prefix { $0 != ":" })
    }

    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
