@testable import Dispatcher
import Foundation
import Parsing
import TestSupport
import Testing

@Suite struct SignatureTests {
    /// The secret as a shop owner types it into WooCommerce, which stores it HTML-escaped; WooCommerce signs with
    /// `wp_specialchars_decode($secret, ENT_QUOTES)`, i.e. `wc&secret'2026`.
    static let storedSecret = "wc&amp;secret&#039;2026"
    static let decodedSecret = "wc&secret'2026"

    @Test func decodesEntitiesExactlyAsWordPressDoes() {
        let cases: [(String, String)] = [
            ("plain", "plain"),
            ("a&amp;b", "a&b"),
            ("&lt;&gt;&quot;", "<>\""),
            ("&#039;&#39;&#0039;&#x27;&#X0027;", "'''''"),
            ("&#034;&#x22;&#038;&#x26;&#060;&#062;", "\"\"&&<>"),
            ("&amp;lt;", "&lt;"),            // one pass, like strtr
            ("&#x3c;&apos;&eacute;&#65;", "&#x3c;&apos;&eacute;&#65;"),  // not in WordPress's table: kept
            ("a & b &amp c &#; &#x;", "a & b &amp c &#; &#x;"),
        ]
        for (input, expected) in cases {
            #expect(WordPressEntities.specialcharsDecode(input) == expected, "\(input)")
        }
    }

    @Test func signaturesMatchAnIndependentHMACOfEveryFixture() throws {
        for file in try Fixtures.names() {
            let body = try Fixtures.bytes(file)
            let reference = try OpenSSL.hmacSHA256Base64(body, key: Self.decodedSecret)
            #expect(SignatureVerifier.sign(body, secret: Self.storedSecret) == reference, "\(file)")
            #expect(SignatureVerifier(secrets: [Self.storedSecret]).isValid(signature: reference, body: body), "\(file)")
        }
        // A known answer, computed with `openssl dgst -sha256 -hmac "wc&secret'2026" -binary | base64`.
        #expect(SignatureVerifier.sign(try Fixtures.bytes("product-simple.json"), secret: Self.storedSecret)
                == "kuXu52qJAi74QlTfcjQjEOWJB2Df4VvFO0oF/X2Gwdk=")
    }

    @Test func refusesWhatTheSecretsDidNotSign() throws {
        let body = try Fixtures.bytes("order-created.json")
        let verifier = SignatureVerifier(secrets: ["old-secret", Self.storedSecret])
        let good = SignatureVerifier.sign(body, secret: Self.storedSecret)
        #expect(verifier.isValid(signature: good, body: body), "any configured secret may have signed it (rotation)")
        #expect(verifier.isValid(signature: SignatureVerifier.sign(body, secret: "old-secret"), body: body))
        var tampered = body
        tampered[tampered.count / 2] ^= 0x01
        #expect(!verifier.isValid(signature: good, body: tampered))
        #expect(!verifier.isValid(signature: SignatureVerifier.sign(body, secret: "someone-else"), body: body))
        #expect(!verifier.isValid(signature: SignatureVerifier.sign(body, secret: Self.decodedSecret + "x"), body: body))
        #expect(!verifier.isValid(signature: nil, body: body))
        #expect(!verifier.isValid(signature: "", body: body))
        #expect(!verifier.isValid(signature: "not base64!", body: body))
        #expect(!verifier.isValid(signature: String(good.dropLast(4)), body: body), "a truncated MAC")
        #expect(!SignatureVerifier(secrets: []).isValid(signature: good, body: body), "no secret: nothing is genuine")
    }
}

/// The WooCommerce-shaped payloads in Tests/Fixtures/woocommerce.
