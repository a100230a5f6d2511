import AppConfiguration
import Foundation
import Operations
import QueueCore
import Testing

/// The admin listener's access policy and CSRF tokens, without a server.
@Suite struct AdminAccessTests {
    /// The policy itself, request by request.
    @Test func accessFailsClosed() throws {
        func facts(_ authorization: String? = nil, loopback: Bool = true, host: String? = "127.0.0.1:8081", forwarded: Bool = false) -> AdminAccess.RequestFacts {
            .init(authorization: authorization, fromLoopback: loopback, host: host, forwarded: forwarded)
        }
        func isAllowed(_ verdict: AdminAccess.Verdict) -> Bool { if case .allowed = verdict { true } else { false } }
        func isRefused(_ verdict: AdminAccess.Verdict) -> Bool { if case .denied(.refused) = verdict { true } else { false } }
        var settings = WooqueueConfiguration.AdminSettings()
        let none = AdminAccess(settings: settings)
        #expect(isRefused(none.check(facts(), scope: .admin)), "no credential configured and no opt-in: nothing is served")
        #expect(isRefused(none.check(facts(), scope: .metrics)))
        #expect(none.check(facts("Bearer anything"), scope: .admin) == .denied(.unauthorized))
        settings.allowLoopbackWithoutCredentials = true
        let optedIn = AdminAccess(settings: settings)
        for host in ["127.0.0.1:8081", "localhost:8081", "localhost", "[::1]:8081", "127.8.9.10"] {
            #expect(isAllowed(optedIn.check(facts(host: host), scope: .admin)), "\(host)")
        }
        for host in ["attacker.example", "attacker.example:8081", "127.0.0.1.attacker.example", "localhost.attacker.example:80", "[::2]:80", "0.0.0.0"] {
            #expect(isRefused(optedIn.check(facts(host: host), scope: .admin)), "Host \(host)")
        }
        #expect(isRefused(optedIn.check(facts(host: nil), scope: .admin)), "no Host at all")
        #expect(isRefused(optedIn.check(facts(forwarded: true), scope: .admin)), "a proxy's forwarding header")
        #expect(isRefused(optedIn.check(facts(loopback: false), scope: .admin)), "another interface")
        settings = WooqueueConfiguration.AdminSettings()
        settings.token = "admin-t"
        let withToken = AdminAccess(settings: settings, metricsToken: "metrics-t")
        #expect(withToken.check(facts(), scope: .admin) == .denied(.unauthorized), "credentials are required from loopback too")
        #expect(isAllowed(withToken.check(facts("Bearer admin-t", loopback: false, host: "wq.example", forwarded: true), scope: .admin)))
        #expect(isAllowed(withToken.check(facts("Bearer metrics-t"), scope: .metrics)))
        #expect(withToken.check(facts("Bearer metrics-t"), scope: .admin) == .denied(.unauthorized), "the metrics token opens only /metrics")
    }

    /// A token is made for one login and lives ``AdminAccess/csrfLifetime`` seconds; its expiry is signed, and
    /// another process's key refuses it.
    @Test func csrfTokensExpireAndAreSigned() {
        var settings = WooqueueConfiguration.AdminSettings()
        settings.token = "t"
        let access = AdminAccess(settings: settings)
        guard case .allowed(let principal) = access.check(.init(authorization: "Bearer t", fromLoopback: true, host: nil, forwarded: false),
                                                          scope: .admin) else { Issue.record("the token is refused"); return }
        let now: Int64 = 1_800_000_000
        let token = access.csrfToken(for: principal, now: now)
        #expect(access.isValidCSRF(token, for: principal, now: now + AdminAccess.csrfLifetime - 1))
        #expect(!access.isValidCSRF(token, for: principal, now: now + AdminAccess.csrfLifetime + 1), "expired")
        let forged = token.replacingOccurrences(of: "\(now + AdminAccess.csrfLifetime).", with: "\(now + 2 * AdminAccess.csrfLifetime).")
        #expect(!access.isValidCSRF(forged, for: principal, now: now), "the expiry is signed")
        #expect(!AdminAccess(settings: settings).isValidCSRF(token, for: principal, now: now), "another process's key")
    }
}
