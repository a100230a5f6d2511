public import Hummingbird
public import NIOCore

/// The request context of wooqueue's HTTP server: Hummingbird's basics plus the peer's address, which the admin
/// pages check when no credentials are configured (loopback only).
public struct ServerContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// True when the request came over the loopback interface (127.0.0.0/8 or ::1).
    public var isFromLoopback: Bool {
        guard let address = remoteAddress?.ipAddress else { return false }
        return address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")
    }
}
