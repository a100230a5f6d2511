import Parsing
import Testing

@Suite struct SentinelURLTests {
    @Test func readsHostsNamePortsDatabaseAndBothCredentials() throws {
        let url = try SentinelURL("redis-sentinel://app:p%40ss@s1:26380,10.0.0.2,[::1]:26381/my-primary/3?sentinelUser=watch&sentinelPassword=s%26cret")
        #expect(url.sentinels == [.init(host: "s1", port: 26380), .init(host: "10.0.0.2", port: 26379), .init(host: "::1", port: 26381)])
        #expect(url.primaryName == "my-primary")
        #expect(url.database == 3)
        #expect(url.username == "app" && url.password == "p@ss")
        #expect(url.sentinelUsername == "watch" && url.sentinelPassword == "s&cret")

        let plain = try SentinelURL("redis-sentinel://127.0.0.1:26379/mymaster")
        #expect(plain.database == 0 && plain.username == nil && plain.password == nil && plain.sentinelPassword == nil)
        #expect(try SentinelURL("redis-sentinel://:only@h/m").password == "only")
    }

    @Test func refusesWhatItCannotReadAndSaysWhy() {
        let cases: [(String, String)] = [
            ("redis://h/m", "must start with"),
            ("redis-sentinel://h1,h2", "must name the primary"),
            ("redis-sentinel:///m", "needs a host"),
            ("redis-sentinel://h1,,h2/m", "needs a host"),
            ("redis-sentinel://h1,/m", "needs a host"),
            ("redis-sentinel://h:0/m", "from 1 to 65535"),
            ("redis-sentinel://h:99999/m", "from 1 to 65535"),
            ("redis-sentinel://h:x/m", "from 1 to 65535"),
            ("redis-sentinel://[::1/m", "must end with ']'"),
            ("redis-sentinel://[::1]x/m", "after ':'"),
            ("redis-sentinel://h/", "the primary's name"),
            ("redis-sentinel://h/my master", "the primary's name"),
            ("redis-sentinel://h/m/x", "database must be a number"),
            ("redis-sentinel://h/m/1/2", "the primary's name"),
            ("redis-sentinel://h/m?tls=1", "unknown option \"tls\""),
            ("redis-sentinel://h/m?caFile=/ca.pem", "write the URL as rediss-sentinel://"),
            ("rediss-sentinel://h/m?caFile=ca.pem", "caFile must be an absolute file path"),
            ("rediss-sentinel://h/m?certFile=/c.pem", "certFile and keyFile go together"),
            ("rediss-sentinel://h/m?verifyHostname=no", "verifyHostname must be true or false"),
            ("rediss-sentinel://h/m?serverName=a%20b", "serverName must be a host name"),
            ("rediss-sentinel://h/m?sni=x", "known: sentinelUser, sentinelPassword, caFile"),
            ("redis-sentinel://u:%zz@h/m", "the password is not valid"),
            // Found by the fuzzer: a host was percent-decoded, and its redaction no longer read back.
            ("redis-sentinel://u:p@h0:2@%2520/7y", "needs a host"),
        ]
        for (text, reason) in cases {
            do {
                _ = try SentinelURL(text)
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.description.contains(reason), "\(text): \(error.description)")
            }
        }
    }

    @Test func readsTLSOptionsOnlyWithTheTLSScheme() throws {
        let url = try SentinelURL("rediss-sentinel://s1/m?caFile=/etc/wq/ca.pem&certFile=/etc/wq/c.pem&keyFile=/etc/wq/k.pem&serverName=redis.internal&verifyHostname=false")
        #expect(url.tls == RedisTLSOptions(caFile: "/etc/wq/ca.pem", certFile: "/etc/wq/c.pem", keyFile: "/etc/wq/k.pem",
                                           serverName: "redis.internal", verifyHostname: false))
        #expect(try SentinelURL("rediss-sentinel://s1/m").tls == RedisTLSOptions())
        #expect(try SentinelURL("redis-sentinel://s1/m").tls == nil)
        // The redaction keeps the scheme and the TLS options (file names, not secrets), and reads back.
        let text = "rediss-sentinel://:pw@s1/m?caFile=/etc/wq/ca.pem&sentinelPassword=sp"
        let redacted = SentinelURL.redact(text)
        #expect(redacted.hasPrefix("rediss-sentinel://") && !redacted.contains("pw@") && !redacted.contains("=sp"), "\(redacted)")
        #expect(try SentinelURL(redacted).tls?.caFile == "/etc/wq/ca.pem")
    }

    @Test func redactionHidesEveryPasswordAndStillReadsBack() throws {
        let text = "redis-sentinel://app:hunter2@s1:26380,s2/mymaster/2?sentinelUser=watch&sentinelPassword=tr0ub4dor"
        let redacted = SentinelURL.redact(text)
        #expect(!redacted.contains("hunter2") && !redacted.contains("tr0ub4dor"), "\(redacted)")
        let again = try SentinelURL(redacted)
        var expected = try SentinelURL(text)
        expected.password = "***"
        expected.sentinelPassword = "***"
        #expect(again == expected)
        #expect(SentinelURL.redact("redis-sentinel://u:secret@/m") == "<unreadable redis-sentinel:// URL>")
        // An error never carries the password, even when the rest of the URL is wrong.
        do {
            _ = try SentinelURL("redis-sentinel://u:secret@h:0/m")
        } catch {
            #expect(!error.description.contains("secret"))
        }
    }
}
