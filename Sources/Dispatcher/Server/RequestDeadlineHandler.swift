import NIOCore
import NIOHTTPTypes

/// Closes a connection that takes longer than `timeout` to send a request, head and body together.
///
/// Hummingbird's idle timeout is reset by every body chunk, so a body sent a byte at a time would hold a
/// connection (and what it buffered) forever. This deadline starts when the connection opens, or when the last
/// response is written, and ends when a request's last byte has arrived; the time a handler takes to answer is
/// not limited here. One instance per connection: Hummingbird makes them through an autoclosure.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What the route reading the body sees when its deadline passed.
    struct Expired: Error, CustomStringConvertible {
        var description: String { "the request was not received within the read timeout" }
    }

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Requests whose `.end` has arrived and whose response has not yet ended.
    private var answering = 0
    private var reading = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            reading = true
            if deadline == nil { arm(context) }
        case .body:
            break
        case .end:
            reading = false
            answering += 1
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            answering = max(0, answering - 1)
            // The next request's clock starts now, unless one is being read already (an early answer, such as a
            // 413, is written while the rest of the body still arrives: its deadline keeps running).
            if answering == 0, !reading { arm(context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.fireErrorCaught(Expired())
            context.close(promise: nil)
        }
    }
}
