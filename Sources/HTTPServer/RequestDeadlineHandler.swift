import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request body takes longer than `timeout` to arrive after its head.
///
/// Hummingbird's idle timeout covers the rest: a connection without a request in progress, and a request head
/// sent slowly (the head counts only once it is whole). But every body chunk resets that timer, so a body sent
/// a byte at a time would hold a connection, and what it buffered, forever. This deadline starts with a request's
/// head and ends with its last byte; the time a handler takes to answer is not limited here. One instance per
/// connection: Hummingbird makes them through an autoclosure.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    /// What the route reading the body sees when its deadline passed.
    struct Expired: Error, CustomStringConvertible {
        var description: String { "the request body was not received within the read timeout" }
    }

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                context.fireErrorCaught(Expired())
                context.close(promise: nil)
            }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }
}
