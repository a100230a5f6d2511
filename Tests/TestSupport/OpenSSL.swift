import Foundation

/// HMAC-SHA256 by the `openssl` command: a reference independent of the Swift code under test.
public enum OpenSSL {
    /// base64 of the raw HMAC-SHA256 of `bytes` keyed with `key`, as WooCommerce signs webhooks and OAuth requests.
    public static func hmacSHA256Base64(_ bytes: [UInt8], key: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["dgst", "-sha256", "-hmac", key, "-binary"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let mac = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return mac.base64EncodedString()
    }
}
