import Crypto
import Dispatcher
import Foundation
import QueueCore

/// Who may use `/admin`, and the CSRF token of its forms.
///
/// With credentials configured (`admin.token` as a bearer token, or `admin.user`/`admin.password` for HTTP Basic),
/// every request must carry one of them; without any, only requests from the loopback interface are served.
/// Credentials are compared in constant time (``Secrets/matches(_:_:)``).
public struct AdminAccess: Sendable {
    private let token: String?
    /// `user:password`, as HTTP Basic carries it.
    private let basic: String?
    /// Signs the CSRF token; random per process.
    private let csrfKey: [UInt8]

    public let hasCredentials: Bool

    public init(settings: WooqueueConfiguration.AdminSettings) {
        token = settings.token.isEmpty ? nil : settings.token
        basic = settings.user.isEmpty ? nil : "\(settings.user):\(settings.password)"
        hasCredentials = settings.hasCredentials
        csrfKey = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    public enum Verdict: Equatable {
        case allowed
        /// Credentials are needed (and a browser should ask for them).
        case unauthorized
        /// No credentials are configured and the request did not come over loopback.
        case loopbackOnly
    }

    public func check(authorization: String?, fromLoopback: Bool) -> Verdict {
        guard hasCredentials else { return fromLoopback ? .allowed : .loopbackOnly }
        guard let authorization else { return .unauthorized }
        if let bearer = Secrets.credentials(authorization, scheme: "Bearer"), let token {
            return Secrets.matches(bearer.utf8, token.utf8) ? .allowed : .unauthorized
        }
        if let encoded = Secrets.credentials(authorization, scheme: "Basic"), let basic, let decoded = Data(base64Encoded: String(encoded)) {
            return Secrets.matches(decoded, basic.utf8) ? .allowed : .unauthorized
        }
        return .unauthorized
    }

    /// The token every form carries in its `csrf` field; a page from another site cannot read it.
    public var csrfToken: String {
        Data(HMAC<SHA256>.authenticationCode(for: Array("wooqueue-admin-form".utf8), using: SymmetricKey(data: csrfKey))).base64EncodedString()
    }

    /// Checks a submitted CSRF token in constant time.
    public func isValidCSRF(_ submitted: String?) -> Bool {
        guard let submitted, let code = Data(base64Encoded: submitted) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: Array("wooqueue-admin-form".utf8), using: SymmetricKey(data: csrfKey))
    }
}
