/// The admin listener (`/admin`, `/metrics`) and who may use it.
///
/// It is a listener of its own, on loopback by default, so a proxy that forwards the webhook port never
/// exposes it. Every request needs a credential, unless `allowLoopbackWithoutCredentials` opts in to serving
/// direct requests from this host without one.
public struct AdminSettings: Sendable {
    /// Address of the admin listener; `WOOQUEUE_ADMIN_HOST` / `WOOQUEUE_ADMIN_PORT` override.
    public var host = "127.0.0.1"
    public var port = 8081
    /// Accepted as `Authorization: Bearer <token>`; `WOOQUEUE_ADMIN_TOKEN` overrides.
    public var token = ""
    /// HTTP Basic credentials (what a browser asks for); `WOOQUEUE_ADMIN_PASSWORD` overrides the password.
    public var user = ""
    public var password = ""
    /// Serve requests without credentials when they come straight from this host: over loopback, to a
    /// loopback `Host`, and with no proxy's forwarding header.
    public var allowLoopbackWithoutCredentials = false

    public init() {}

    /// True when some credential is configured.
    public var hasCredentials: Bool { !token.isEmpty || (!user.isEmpty && !password.isEmpty) }

    /// True when the listener binds a loopback address only.
    public var listensOnLoopback: Bool { Self.isLoopback(host: host) }

    /// True for the names of this host's loopback interface: `localhost`, 127.0.0.0/8 and `::1` (bare or in
    /// brackets, as a `Host` header carries it).
    public static func isLoopback(host: some StringProtocol) -> Bool {
        let name = host.lowercased()
        if name == "localhost" || name == "::1" || name == "[::1]" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) && (UInt8(part) != nil)
        }
    }
}
