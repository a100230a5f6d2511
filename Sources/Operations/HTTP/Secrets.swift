import Crypto

/// Comparing what a client sent with a configured secret.
enum Secrets {
    /// True when `given` equals `secret`. The SHA-256 digests are compared, which swift-crypto does in constant
    /// time, so the time of the answer tells nothing about the secret.
    static func matches(_ given: some Sequence<UInt8>, _ secret: some Sequence<UInt8>) -> Bool {
        SHA256.hash(data: Array(given)) == SHA256.hash(data: Array(secret))
    }

    /// The credentials of an `Authorization` header in `scheme` (`Bearer`, `Basic`), whose name is
    /// case-insensitive (RFC 9110 §11.1: some clients send `basic` or `BEARER`); `nil` for another scheme.
    static func credentials(_ header: String?, scheme: String) -> Substring? {
        guard let header, let space = header.firstIndex(of: " "), header[..<space].lowercased() == scheme.lowercased() else { return nil }
        return header[header.index(after: space)...].drop { $0 == " " }
    }
}
