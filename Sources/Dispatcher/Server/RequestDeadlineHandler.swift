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
    /// Requests whose head has arrived and whose response has not ended yet.
    private var unanswered = 0
    /// A request's head has arrived and its `.end` not yet.
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
            unanswered += 1
            if deadline == nil { arm(context) }
        case .body:
            break
        case .end:
            reading = false
            if unanswered == 0 {
                arm(context)  // answered early (a 413, a 401): the next request's clock starts now
            } else {
                deadline?.cancel()
                deadline = nil
            }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unanswered = max(0, unanswered - 1)
            // The next request's clock starts now, unless a request is still being read: an early answer, such
            // as a 413, is written while the rest of its body arrives, and that body's deadline keeps running.
            if unanswered == 0, !reading { arm(context) }
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
