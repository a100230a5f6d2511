import Crypto
import Foundation

/// OAuth 1.0a one-legged signatures as WooCommerce checks them over plain http
/// (`WC_REST_Authentication::check_oauth_signature`): parameters sorted by name, each name and value
/// percent-encoded (`normalize_parameters`), each `name=value` pair percent-encoded again
/// (`join_with_equals_sign`), as RFC 5849 encodes the normalized parameter string; the pairs joined with `%26`,
/// then `GET&<encoded URL>&<that>` signed with HMAC-SHA256 keyed by `<consumer secret>&`. A value with `:` (such
/// as `modified_after`) is where encoding once goes wrong: `%3A` must become `%253A`.
enum OAuth1 {
    static func parameters(method: String, url: String, query: [(String, String)], consumerKey: String, consumerSecret: String,
                           timestamp: Int64, nonce: String) -> [(String, String)] {
        let oauth = [
            ("oauth_consumer_key", consumerKey), ("oauth_nonce", nonce), ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", String(timestamp)),
        ]
        let signed = (query + oauth).sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        let normalized = signed.map { percentEncode("\(percentEncode($0.0))=\(percentEncode($0.1))") }.joined(separator: "%26")
        let base = "\(method)&\(percentEncode(url))&\(normalized)"
        let key = SymmetricKey(data: Data("\(consumerSecret)&".utf8))
        let signature = Data(HMAC<SHA256>.authenticationCode(for: Data(base.utf8), using: key)).base64EncodedString()
        return oauth + [("oauth_signature", signature)]
    }

    /// RFC 3986 encoding, as PHP's `rawurlencode`: everything but `A–Z a–z 0–9 - . _ ~`.
    static func percentEncode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }
}
