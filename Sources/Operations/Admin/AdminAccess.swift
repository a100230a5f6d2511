import Crypto
public import HTTPServer
import Foundation
import HTTPTypes
public import Hummingbird
import NIOCore
public import QueueCore

/// Who may use the admin listener (`/admin`, `/metrics`), and the CSRF tokens of the dashboard's forms.
///
/// It fails closed. A request passes with a configured credential: `admin.token` as a bearer token,
/// `admin.user`/`admin.password` as HTTP Basic, or, for `/metrics` only, `http.metricsToken`. Without one it passes
/// only when `admin.allowLoopbackWithoutCredentials` opts in, and then only when it comes straight from this host:
/// over loopback, to a loopback `Host` (a DNS-rebinding page names its own host), and with no `Forwarded`,
/// `X-Forwarded-For` or `X-Real-IP` (a proxy on this host makes every request come over loopback). Credentials
/// are compared in constant time (``Secrets/matches(_:_:)``).
public struct AdminAccess: Sendable {
    private let token: String?
    /// `user:password`, as HTTP Basic carries it.
    private let basic: String?
    private let metricsToken: String?
    private let allowLoopbackWithoutCredentials: Bool
    /// Signs the CSRF tokens; random per process, so a restart asks for a reload.
    private let csrfKey: [UInt8]
    /// How long a form's CSRF token is accepted after its page was served.
    public static let csrfLifetime: Int64 = 4 * 3600

    public let hasCredentials: Bool

    public init(settings: AdminSettings, metricsToken: String = "") {
        token = settings.token.isEmpty ? nil : settings.token
        basic = settings.user.isEmpty ? nil : "\(settings.user):\(settings.password)"
        self.metricsToken = metricsToken.isEmpty ? nil : metricsToken
        allowLoopbackWithoutCredentials = settings.allowLoopbackWithoutCredentials
        hasCredentials = settings.hasCredentials
        csrfKey = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    /// What is asked for: the dashboard, or the Prometheus scrape (which also accepts `http.metricsToken`).
    public enum Scope: Sendable {
        case admin
        case metrics
    }

    /// Who a request was let in as. A CSRF token is bound to it.
    public struct Principal: Sendable, Equatable {
        /// A digest of the credential that was presented, or a fixed name for a direct loopback request.
        let identity: [UInt8]

        static let loopback = Principal(identity: Array("loopback without credentials".utf8))

        init(identity: [UInt8]) {
            self.identity = identity
        }

        init(credential: String, scheme: String) {
            identity = Array(SHA256.hash(data: Array("\(scheme)\0\(credential)".utf8)))
        }
    }

    public enum Verdict: Sendable, Equatable {
        case allowed(Principal)
        case denied(Denial)
    }

    /// Why a request was not let in.
    public enum Denial: Sendable, Equatable {
        /// No valid credential was presented, and one is needed (a browser should ask for it).
        case unauthorized
        /// Refused whatever the client sends next; the text says why and what to configure.
        case refused(String)
    }

    /// What the decision reads from a request.
    public struct RequestFacts: Sendable {
        public var authorization: String?
        public var fromLoopback: Bool
        /// The `Host` header (authority), with its port if any.
        public var host: String?
        /// True when the request carries `Forwarded`, `X-Forwarded-For` or `X-Real-IP`.
        public var forwarded: Bool

        public init(authorization: String?, fromLoopback: Bool, host: String?, forwarded: Bool) {
            self.authorization = authorization
            self.fromLoopback = fromLoopback
            self.host = host
            self.forwarded = forwarded
        }

        public init(_ request: Request, _ context: ServerContext) {
            self.init(authorization: request.headers[.authorization], fromLoopback: context.isFromLoopback,
                      host: request.head.authority,
                      forwarded: [HTTPField.Name.forwarded, .xForwardedFor, .xRealIP].contains { request.headers[$0] != nil })
        }
    }

    public func check(_ request: Request, _ context: ServerContext, scope: Scope) -> Verdict {
        check(RequestFacts(request, context), scope: scope)
    }

    public func check(_ facts: RequestFacts, scope: Scope) -> Verdict {
        if let authorization = facts.authorization {
            // A credential that was sent must be right: loopback never excuses a wrong one.
            if let bearer = Secrets.credentials(authorization, scheme: "Bearer") {
                if let token, Secrets.matches(bearer.utf8, token.utf8) { return .allowed(Principal(credential: token, scheme: "bearer")) }
                if scope == .metrics, let metricsToken, Secrets.matches(bearer.utf8, metricsToken.utf8) {
                    return .allowed(Principal(credential: metricsToken, scheme: "metrics"))
                }
            } else if let encoded = Secrets.credentials(authorization, scheme: "Basic"), let basic,
                      let decoded = Data(base64Encoded: String(encoded)), Secrets.matches(decoded, basic.utf8) {
                return .allowed(Principal(credential: basic, scheme: "basic"))
            }
            return .denied(.unauthorized)
        }
        guard allowLoopbackWithoutCredentials else {
            if hasCredentials || (scope == .metrics && metricsToken != nil) { return .denied(.unauthorized) }
            return .denied(.refused("""
                no admin credential is configured, so nothing is served here: set admin.token (WOOQUEUE_ADMIN_TOKEN) or \
                admin.user and admin.password\(scope == .metrics ? " (or http.metricsToken for /metrics)" : ""); or, on a \
                host where only trusted users can reach loopback, admin.allowLoopbackWithoutCredentials
                """))
        }
        guard facts.fromLoopback else { return .denied(.refused("without credentials only requests over the loopback interface are served; send a credential")) }
        guard !facts.forwarded else {
            return .denied(.refused("this request came through a proxy (it carries Forwarded, X-Forwarded-For or X-Real-IP), so it needs a credential"))
        }
        guard let host = facts.host, AdminSettings.isLoopback(host: Self.name(ofAuthority: host)) else {
            return .denied(.refused("without credentials only requests to a loopback Host (localhost, 127.0.0.1, [::1]) are served; send a credential"))
        }
        return .allowed(.loopback)
    }

    /// The host name of an authority (`host:port`, `[v6]:port`, or a bare host).
    static func name(ofAuthority authority: String) -> Substring {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") { return authority[...end] }
        let colons = authority.count { $0 == ":" }
        if colons == 1, let colon = authority.firstIndex(of: ":") { return authority[..<colon] }
        return authority[...]
    }

    /// The answer to a request that was not let in.
    public static func refusal(_ denial: Denial, scope: Scope) -> Response {
        switch denial {
        case .unauthorized where scope == .metrics:
            return text(401, "a credential is required: Authorization: Bearer <http.metricsToken or admin.token>\n",
                        extra: [.wwwAuthenticate: #"Bearer realm="wooqueue metrics""#])
        case .unauthorized:
            return text(401, "credentials are required: the admin token as a bearer token, or the admin user and password\n",
                        extra: [.wwwAuthenticate: #"Basic realm="wooqueue admin", charset="UTF-8""#])
        case .refused(let reason):
            return text(403, reason + "\n")
        }
    }

    /// A plain-text answer that a browser must not read as anything else.
    static func text(_ status: Int, _ body: String, extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.contentTypeOptions] = "nosniff"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    // MARK: - CSRF

    /// The token the forms of a page served to `principal` carry in their `csrf` field: an expiry (Unix seconds)
    /// and a MAC over it and the principal. A page of another site cannot read it, another credential cannot
    /// use it, and it stops working ``csrfLifetime`` seconds after the page was served.
    public func csrfToken(for principal: Principal, now: Int64 = WallClock.nowMillis() / 1000) -> String {
        let expiry = now + Self.csrfLifetime
        return "\(expiry).\(Data(csrfMAC(expiry: expiry, principal: principal)).base64EncodedString())"
    }

    /// Checks a submitted CSRF token: well formed, not expired, and made for `principal` (in constant time).
    public func isValidCSRF(_ submitted: String?, for principal: Principal, now: Int64 = WallClock.nowMillis() / 1000) -> Bool {
        guard let submitted, let dot = submitted.firstIndex(of: "."), let expiry = Int64(submitted[..<dot]),
              expiry >= now, expiry <= now + Self.csrfLifetime,
              let code = Data(base64Encoded: String(submitted[submitted.index(after: dot)...])) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: csrfMessage(expiry: expiry, principal: principal),
                                                       using: SymmetricKey(data: csrfKey))
    }

    private func csrfMAC(expiry: Int64, principal: Principal) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: csrfMessage(expiry: expiry, principal: principal), using: SymmetricKey(data: csrfKey))
    }

    private func csrfMessage(expiry: Int64, principal: Principal) -> [UInt8] {
        Array("wooqueue-admin-form\0\(expiry)\0".utf8) + principal.identity
    }
}

extension HTTPField.Name {
    static let forwarded = Self("Forwarded")!
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xRealIP = Self("X-Real-IP")!
    /// `nosniff`: a browser must not guess another type than the one sent (a payload shown as HTML, say).
    static let contentTypeOptions = Self("X-Content-Type-Options")!
}
