public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Parsing
import QueueCore

/// POSTs the payload as JSON to the type's URL.
///
/// 2xx is done; 429 and 503 with a `Retry-After` (seconds or an HTTP date) hold the whole job type that long
/// (``JobFailure/Kind/backPressure``); 408, 429, 5xx, connection errors and timeouts are retried; any other status is permanent and
/// dead-letters the job with the status and the start of the body. Redirects are not followed: the type's headers
/// (an `Authorization`, say) must never go to whatever address a 3xx names, so a 3xx is permanent and says where
/// it pointed; set the type's `url` to the final address. Each request carries `X-Wooqueue-Job-Id`
/// (the same on every attempt, for the receiver's de-duplication), `X-Wooqueue-Job-Type` and `X-Wooqueue-Attempt`.
public struct HTTPHandler: JobHandler {
    let url: String
    /// The URL without user info and query, for messages: those may carry credentials.
    let displayURL: String
    let headers: [String: String]
    let timeout: Duration
    let client: HTTPClient

    /// The client the handlers share: AsyncHTTPClient's defaults, but no redirect is followed.
    public static let sharedClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    public init(url: String, headers: [String: String] = [:], timeout: Duration, client: HTTPClient = HTTPHandler.sharedClient) {
        self.url = url
        var components = URLComponents(string: url)
        components?.user = nil
        components?.password = nil
        components?.query = nil
        self.displayURL = components?.string ?? "the configured URL"
        self.headers = headers
        self.timeout = timeout
        self.client = client
    }

    /// The settings a type of this kind reads: `url` (required), `headers`.
    static let settings: Set<String> = ["url", "headers"]

    /// The handler of a type with `"handler": "http"`.
    init(spec: HandlerSpec) throws {
        let url = try spec.settings.child("url").optionalString()
        guard let url, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ConfigurationError("\(spec.settings.path).url must be an http:// or https:// URL for the http handler, got \(url.map { "\"\($0)\"" } ?? "nothing")")
        }
        self.init(url: url, headers: try spec.settings.child("headers").stringMap(), timeout: spec.timeout)
    }

    public func handle(_ job: JobContext) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "wooqueue")
        request.headers.add(name: "X-Wooqueue-Job-Id", value: job.envelope.id)
        request.headers.add(name: "X-Wooqueue-Job-Type", value: job.envelope.type)
        request.headers.add(name: "X-Wooqueue-Attempt", value: String(job.envelope.attempt + 1))
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: job.envelope.payload))

        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .milliseconds(timeout.milliseconds))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw JobFailure.transient("POST \(displayURL) failed: \(error)")
        }
        let code = Int(response.status.code)
        // Read (at most 64 KiB of) the body either way, so the connection can be reused.
        let body = (try? await response.body.collect(upTo: 65_536)).map { String(buffer: $0) } ?? ""
        if (200..<300).contains(code) { return }
        let message = "POST \(displayURL) answered HTTP \(code)\(body.isEmpty ? "" : ": \(body.prefix(300))")"
        if code == 429 || code == 503, let value = response.headers.first(name: "Retry-After"),
           let seconds = RetryAfter.seconds(value, now: Int64(Date().timeIntervalSince1970), cap: 86_400) {
            throw JobFailure.backPressure("\(message) (Retry-After: \(value.prefix(40)))", retryAfter: .seconds(seconds))
        }
        if code == 408 || code == 429 || code >= 500 { throw JobFailure.transient(message) }
        if (300..<400).contains(code) {
            let location = response.headers.first(name: "Location").map { " to \($0.prefix(200))" } ?? ""
            throw JobFailure.permanent("\(message) (a redirect\(location); redirects are not followed: set the job type's url to the final address)")
        }
        throw JobFailure.permanent(message)
    }
}
