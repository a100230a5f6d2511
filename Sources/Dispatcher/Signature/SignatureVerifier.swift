import Crypto
public import Foundation
import Parsing

/// Checks `X-WC-Webhook-Signature`: base64 of HMAC-SHA256 over the exact body bytes, keyed with the webhook's
/// secret after WordPress's entity decoding.
///
/// Several secrets may be configured (one per store or webhook, old and new during a rotation); a delivery is
/// genuine when any of them signed it. Comparison is constant-time (swift-crypto's
/// `isValidAuthenticationCode`), and it happens before the body is parsed.
public struct SignatureVerifier: Sendable {
    /// The decoded secrets' bytes (swift-crypto's `SymmetricKey` is not `Sendable`; one is made per check).
    private let keys: [Data]

    /// - Parameter secrets: the secrets as entered in WooCommerce's webhook settings.
    public init(secrets: [String]) {
        self.keys = secrets.map { Data(WordPressEntities.specialcharsDecode($0).utf8) }
    }

    /// Whether any secret is configured; without one every delivery is refused.
    public var hasSecrets: Bool { !keys.isEmpty }

    /// True when `signature` is a valid signature of `body` under one of the secrets.
    public func isValid(signature: String?, body: some DataProtocol) -> Bool {
        guard let signature, let mac = Data(base64Encoded: signature), mac.count == SHA256.byteCount else { return false }
        var valid = false
        // Every key is tried, so the time taken does not depend on which one matched.
        for key in keys where HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: SymmetricKey(data: key)) {
            valid = true
        }
        return valid
    }

    /// The signature WooCommerce would send for `body` under `secret`, for tests and load generators.
    public static func sign(_ body: some DataProtocol, secret: String) -> String {
        let key = SymmetricKey(data: Data(WordPressEntities.specialcharsDecode(secret).utf8))
        return Data(HMAC<SHA256>.authenticationCode(for: body, using: key)).base64EncodedString()
    }
}
