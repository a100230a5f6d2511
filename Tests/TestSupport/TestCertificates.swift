public import Foundation

/// A test CA and certificates it signs, made with the `openssl` command (an implementation independent of the code
/// under test) in a temporary directory. `remove()` deletes them; a test calls it on every path.
public final class TestCertificates: Sendable {
    public let directory: URL

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A self-signed CA: `<name>.pem` and `<name>.key`.
    @discardableResult
    public func makeCA(_ name: String) throws -> String {
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=wooqueue test \(name)",
                     "-keyout", path("\(name).key"), "-out", path("\(name).pem")])
        return path("\(name).pem")
    }

    /// A certificate `<name>.pem` with key `<name>.key`, signed by the CA `ca`, for the subject alternative names
    /// `names` (`DNS:localhost`, `IP:127.0.0.1`); usable by a server and by a client.
    @discardableResult
    public func makeCertificate(_ name: String, signedBy ca: String, names: [String]) throws -> (certificate: String, key: String) {
        let extensions = path("\(name).ext")
        try Data("""
            basicConstraints=CA:FALSE
            keyUsage=digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth,clientAuth
            subjectAltName=\(names.joined(separator: ","))

            """.utf8).write(to: URL(fileURLWithPath: extensions))
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(name)", "-keyout", path("\(name).key"), "-out", path("\(name).csr")])
        try openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(ca).pem"), "-CAkey", path("\(ca).key"),
                     "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", path("\(name).pem")])
        return (path("\(name).pem"), path("\(name).key"))
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OpenSSLFailure(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }

    struct OpenSSLFailure: Error, CustomStringConvertible {
        let description: String
    }
}
