import Foundation
import Parsing
import Testing

/// The scanner reads string contents eight bytes at a time; these check every alignment of the bytes that end a
/// plain run against Foundation's decoder.
struct JSONScannerTests {
    private static let specials = [#"\""#, #"\\"#, #"\n"#, #"\u00e9"#, #"\ud83d\ude00"#, "é", "😀", "'"]

    private func members(_ text: String) throws -> [String: String?] {
        let bytes = Array(text.utf8)
        var found: [String: String?] = [:]
        try JSONScanner.forEachMember(of: bytes) { name, range in
            found[name] = bytes[range.lowerBound] == UInt8(ascii: "\"") ? try JSONScanner.string(in: bytes, range) : nil
        }
        return found
    }

    @Test("strings decode like Foundation's with an escape or multibyte character at every offset")
    func everyAlignment() throws {
        for special in Self.specials {
            for before in 0..<20 {
                for after in [0, 1, 7, 8, 9] {
                    let value = String(repeating: "x", count: before) + special + String(repeating: "y", count: after)
                    let text = #"{"skip":""# + value + #"","a":""# + value + #"","b":1}"#
                    let expected = try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])["a"] as? String
                    let found = try members(text)
                    #expect(found["a"] == expected, "offset \(before), \(special)")
                    #expect(found.keys.contains("b"), "offset \(before), \(special)")
                }
            }
        }
    }

    @Test("an unescaped control character or a missing closing quote is an error at every offset")
    func invalidStrings() {
        for before in 0..<20 {
            let padding = String(repeating: "x", count: before)
            #expect(throws: JSONScanError.self) { try self.members("{\"a\":\"\(padding)\u{01}z\"}") }
            #expect(throws: JSONScanError.self) { try self.members("{\"a\":\"\(padding)") }
            #expect(throws: JSONScanError.self) { try self.members("{\"a\":\"\(padding)\\") }
        }
    }

    @Test("the first member's value is found by name, and any other shape or truncation is nil, never a trap")
    func valueOfFirstMember() {
        let name = Array("products".utf8)
        func start(_ text: String) -> Int? { JSONScanner.valueOfFirstMember(named: name, in: Array(text.utf8)) }
        #expect(start(#"{"products":[1]}"#) == 12)
        #expect(start(" {\n \"products\" :\t[1]}") == 17)
        #expect(start(#"{"id":1,"products":[]}"#) == nil)
        #expect(start(#"{"product":[]}"#) == nil)
        #expect(start(#"{"productsX":[]}"#) == nil)
        #expect(start(#"["products"]"#) == nil)
        let whole = #"{"products":"#
        for end in 0..<whole.utf8.count { #expect(start(String(whole.prefix(end))) == nil, "\(end)") }
    }
}

