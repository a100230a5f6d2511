import COpenSSL
import Foundation
import Parsing

/// An OpenSSL client context made from a URL's TLS options: the CAs to trust and this client's certificate.
///
/// Made once per ``RedisConfiguration`` and shared by its connections, so the files are read once; an `SSL_CTX`
/// is safe to share between threads once it is set up, and it is never changed after `init`.
final class TLSClientContext: @unchecked Sendable {
    let options: RedisTLSOptions
    private let context: OpaquePointer

    init(_ options: RedisTLSOptions) throws {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw RedisError(.configuration, "cannot make a TLS context: \(TLSClientContext.openSSLErrors())")
        }
        self.context = context
        self.options = options
        SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let caFile = options.caFile {
            try Self.checkReadable(caFile, "caFile")
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw RedisError(.configuration, "Redis TLS: caFile \(caFile) holds no PEM certificate OpenSSL can read (\(Self.openSSLErrors()))")
            }
        } else if SSL_CTX_set_default_verify_paths(context) != 1 {
            throw RedisError(.configuration, "Redis TLS: cannot load the system's trusted CAs (\(Self.openSSLErrors())); give caFile in the Redis URL")
        }
        if let certFile = options.certFile, let keyFile = options.keyFile {
            try Self.checkReadable(certFile, "certFile")
            try Self.checkReadable(keyFile, "keyFile")
            guard SSL_CTX_use_certificate_chain_file(context, certFile) == 1 else {
                throw RedisError(.configuration, "Redis TLS: certFile \(certFile) holds no PEM certificate OpenSSL can read (\(Self.openSSLErrors()))")
            }
            guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(context) == 1 else {
                throw RedisError(.configuration, """
                    Redis TLS: keyFile \(keyFile) is not the key of certFile \(certFile), or not an unencrypted PEM key \
                    (\(Self.openSSLErrors()))
                    """)
            }
        }
    }

    deinit { SSL_CTX_free(context) }

    /// Starts TLS on the connected socket `fd` and verifies that the server's certificate chains to a trusted CA
    /// and, unless `verifyHostname=false`, names `host` (or `serverName`). The socket's timeouts bound the
    /// handshake. A refused certificate is a `.configuration` error that says what to fix.
    func handshake(fd: Int32, host: String, endpoint: String) throws -> TLSSession {
        ERR_clear_error()
        guard let ssl = SSL_new(context) else {
            throw RedisError(.connection, "\(endpoint): cannot start TLS: \(Self.openSSLErrors())")
        }
        let session = TLSSession(ssl)
        let name = options.serverName ?? host
        let isAddress = Self.isAddress(name)
        // SNI carries host names only (RFC 6066), never an address.
        // (SSL_set_tlsext_host_name is a macro Swift cannot call; OpenSSL copies the name.)
        if !isAddress {
            name.withCString { SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
        }
        if options.verifyHostname {
            let named = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) : SSL_set1_host(ssl, name)
            guard named == 1 else { throw RedisError(.configuration, "Redis TLS: cannot verify the server as \"\(name)\"") }
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        }
        SSL_set_fd(ssl, fd)
        guard SSL_connect(ssl) == 1 else {
            let verification = SSL_get_verify_result(ssl)
            if verification != X509_V_OK {
                let reason = String(cString: X509_verify_cert_error_string(verification))
                let hint = verification == X509_V_ERR_HOSTNAME_MISMATCH || verification == X509_V_ERR_IP_ADDRESS_MISMATCH
                    ? "the certificate is not for \"\(name)\": connect by the name it is for, or set serverName in the Redis URL"
                    : "the certificate is not signed by a CA this client trusts: set caFile in the Redis URL to the CA that signed it"
                throw RedisError(.configuration, "\(endpoint): refused the server's TLS certificate (\(reason)): \(hint)")
            }
            let errors = Self.openSSLErrors()
            if errors.isEmpty {
                throw RedisError(.connection, "\(endpoint): the TLS handshake failed (\(String(cString: strerror(errno)))). Does this port speak TLS?")
            }
            throw RedisError(.configuration, "\(endpoint): the TLS handshake failed (\(errors)). Does this port speak TLS, with a certificate this client trusts?")
        }
        return session
    }

    /// The reasons queued in this thread's OpenSSL error queue, which this empties.
    static func openSSLErrors() -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            reasons.append(ERR_reason_error_string(code).map { String(cString: $0) } ?? "OpenSSL error \(code)")
        }
        return reasons.joined(separator: "; ")
    }

    private static func isAddress(_ name: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }

    private static func checkReadable(_ path: String, _ option: String) throws {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw RedisError(.configuration, "Redis TLS: \(option) \(path) cannot be read (missing, or not readable by this user)")
        }
    }
}

/// One TLS session on a socket that a hiredis context owns (OpenSSL does not close it).
final class TLSSession {
    private let ssl: OpaquePointer
    /// False until a reply has been read: a TLS alert before then (a client certificate the server wants or
    /// refuses) is a setting to fix, not an outage.
    var hasReadReply = false

    init(_ ssl: OpaquePointer) { self.ssl = ssl }

    deinit { SSL_free(ssl) }

    /// Decrypted bytes OpenSSL holds that `poll` on the socket cannot see.
    var hasBufferedBytes: Bool { SSL_pending(ssl) > 0 }

    /// Writes all of `bytes` (a blocking socket: `SSL_write` returns when all are written or it failed).
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        ERR_clear_error()
        var offset = 0
        while offset < bytes.count {
            let written = SSL_write(ssl, base + offset, Int32(clamping: bytes.count - offset))
            guard written > 0 else { throw failure(written, during: "writing") }
            offset += Int(written)
        }
    }

    /// Reads what arrives next into `buffer`; returns the byte count, or throws when the connection broke.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        ERR_clear_error()
        let count = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        guard count > 0 else { throw failure(count, during: "reading") }
        return Int(count)
    }

    /// After a write failed before any reply: the server may have refused this client's certificate and closed
    /// the session (TLS 1.3 says so only after the handshake). Reads its alert, if one came, to say so.
    func refusalAfterFailedWrite(into buffer: UnsafeMutableRawBufferPointer) -> RedisError? {
        guard !hasReadReply else { return nil }
        do {
            _ = try read(into: buffer)
            return nil
        } catch let error as RedisError where error.kind == .configuration {
            return error
        } catch {
            return nil
        }
    }

    private func failure(_ result: Int32, during what: String) -> RedisError {
        let code = SSL_get_error(ssl, result)
        let reason = code == SSL_ERROR_ZERO_RETURN ? "the server closed the TLS session"
            : code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE ? "timed out"
            : code == SSL_ERROR_SSL ? TLSClientContext.openSSLErrors()
            : errno == 0 ? "connection lost" : String(cString: strerror(errno))
        if code == SSL_ERROR_SSL, !hasReadReply {
            return RedisError(.configuration, """
                the server ended the TLS session before answering (\(reason)): if it wants a client certificate, set \
                certFile and keyFile in the Redis URL to one its tls-ca-cert-file trusts
                """)
        }
        return RedisError(.connection, "TLS \(what): \(reason)")
    }
}
