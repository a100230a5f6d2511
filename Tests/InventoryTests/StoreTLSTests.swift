import AppConfiguration
import Foundation
import Logging
import Parsing
import QueueCore
import TestSupport
import Testing
@testable import WooCommerceAPI

/// An https store whose certificate comes from a private CA: a real TLS server (Python's ssl, Tests/Peers) with a
/// CA and a certificate made by the openssl command for each run.
@Suite(.serialized) struct StoreTLSTests {
    /// A CA, a server certificate it signed for 127.0.0.1 and localhost, and the store serving with it.
    struct PrivateCAStore {
        let directory: String
        let process: Process
        let port: Int
        var caFile: String { "\(directory)/ca.pem" }

        static func start() async throws -> PrivateCAStore {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-tls-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data("subjectAltName=IP:127.0.0.1,DNS:localhost\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/san.cnf"))
            for arguments in [
                ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.pem",
                 "-days", "2", "-subj", "/CN=wooqueue test CA"],
                ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(directory)/server.key", "-out", "\(directory)/server.csr",
                 "-subj", "/CN=127.0.0.1"],
                ["x509", "-req", "-in", "\(directory)/server.csr", "-CA", "\(directory)/ca.pem", "-CAkey", "\(directory)/ca.key",
                 "-CAcreateserial", "-out", "\(directory)/server.pem", "-days", "2", "-extfile", "\(directory)/san.cnf"],
            ] {
                #expect(try await runToCompletion("/usr/bin/openssl", arguments) == 0, "openssl \(arguments[0])")
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Peers/tls_store.py").path,
                                 "\(directory)/server.pem", "\(directory)/server.key", "\(directory)/port"]
            try process.run()
            try await waitUntil("the TLS store to listen", timeout: .seconds(10)) { FileManager.default.fileExists(atPath: "\(directory)/port") }
            let port = Int(try String(contentsOfFile: "\(directory)/port", encoding: .utf8)) ?? 0
            return PrivateCAStore(directory: directory, process: process, port: port)
        }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }

        func settings(_ woocommerce: String = "", environment: [String: String] = [:]) throws -> WooqueueConfiguration.WooCommerceSettings {
            let json = #"{"woocommerce": {"url": "https://127.0.0.1:\#(port)", "consumerKey": "ck_test", "consumerSecret": "cs_test"\#(woocommerce)}}"#
            return try WooqueueConfiguration.decode(try JSONValue.parse(Array(json.utf8)), environment: environment).woocommerce
        }
    }

    /// Without the CA the handshake fails, and that is final: one certificate error naming what to set, not
    /// retries that end as "the store did not answer" minutes later.
    @Test func anUntrustedCertificateFailsAtOnceAndSaysWhatToSet() async throws {
        let store = try await PrivateCAStore.start()
        defer { store.stop() }
        let log = CapturedLog()
        let client = try WooCommerceClient(settings: try store.settings(#", "timeout": "2s""#), logger: log.logger(label: "test"),
                                           attempts: 5, firstDelay: .milliseconds(100))
        do {
            _ = try await client.productCount()
            Issue.record("a certificate from an unknown CA was accepted")
        } catch let error as WooCommerceError {
            guard case .certificate = error else { Issue.record("not a certificate error, so it was retried: \(error)"); return }
            #expect(error.description.contains("woocommerce.caFile"), "\(error)")
            #expect(!log.lines.contains { $0.message.contains("retrying") }, "a refused certificate is not retried")
        }
    }

    @Test func theCAFileOrSSLCertFileMakesTheStoreTrusted() async throws {
        let store = try await PrivateCAStore.start()
        defer { store.stop() }
        let configured = try WooCommerceClient(settings: try store.settings(#", "caFile": "\#(store.caFile)""#), logger: Logger(label: "test"))
        #expect(try await configured.productCount() == 2)
        let fromEnvironment = try store.settings(environment: ["SSL_CERT_FILE": store.caFile])
        #expect(fromEnvironment.caFile == store.caFile, "SSL_CERT_FILE applies when woocommerce.caFile is not set")
        #expect(try await WooCommerceClient(settings: fromEnvironment, logger: Logger(label: "test")).products(page: 1).items.count == 2)
        #expect(try store.settings(#", "caFile": "/etc/ssl/mine.pem""#, environment: ["SSL_CERT_FILE": store.caFile]).caFile == "/etc/ssl/mine.pem",
                "the setting wins over the environment")
        #expect(throws: WooCommerceError.self, "a CA file that cannot be read is refused at start, with its name") {
            try WooCommerceClient(settings: try store.settings(#", "caFile": "/nonexistent/ca.pem""#), logger: Logger(label: "test"))
        }
    }
}
