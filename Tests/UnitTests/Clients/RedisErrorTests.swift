import RedisClient
import Testing

/// The kinds of Redis error reply, without a server: what is an outage and what is a refusal.
@Suite struct RedisErrorTests {
    @Test func replyCodesAreTypedAndSayWhatIsAnOutage() {
        #expect(RedisError(.server, "LOADING Redis is loading the dataset in memory").serverCode == .loading)
        #expect(RedisError(.server, "NOSCRIPT No matching script").serverCode == .noScript)
        #expect(RedisError(.server, "ERR unknown command").serverCode == nil)
        #expect(RedisError(.connection, "OOM in the message of a connection error").serverCode == nil)
        for unavailable in ["LOADING x", "READONLY x", "MASTERDOWN x", "OOM x", "BUSY x", "TRYAGAIN x", "CLUSTERDOWN x"] {
            #expect(RedisError(.server, unavailable).isUnavailable, "\(unavailable)")
        }
        for refusal in ["NOSCRIPT x", "WRONGPASS x", "NOPERM x", "ERR x", "WRONGTYPE x", "OOMX not a code"] {
            #expect(!RedisError(.server, refusal).isUnavailable, "\(refusal)")
        }
        #expect(RedisError(.connection, "refused").isUnavailable && RedisError(.connection, "refused").isConnectionLost)
    }
}
