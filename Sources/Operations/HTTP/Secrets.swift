import Crypto

/// Comparing what a client sent with a configured secret.
enum Secrets {
    /// True when `given` equals `secret`. The SHA-256 digests are compared, which swift-crypto does in constant
    /// time, so the time of the answer tells nothing about the secret.
    static func matches(_ given: some Sequence<UInt8>, _ secret: some Sequence<UInt8>) -> Bool {
        SHA256.hash(data: Array(given)) == SHA256.hash(data: Array(secret))
    }
}
