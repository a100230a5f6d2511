import Parsing
import Testing
import WooCommerceModel

/// A page job's products read in one scan (``ProductPage/products(in:list:)``), against reading each element of the
/// list on its own: the same ranges, the same products, the same failures.
struct ProductPageTests {
    private func elements(_ payload: [UInt8], _ list: Range<Int>) throws -> [(Range<Int>, Product?)] {
        var found: [(Range<Int>, Product?)] = []
        try JSONScanner.forEachElement(of: payload, in: list) { range in
            found.append((range, try? Product(json: Array(payload[range]))))
            return true
        }
        return found
    }

    @Test func aPageIsReadInOneScanAsItsElementsAreOneByOne() throws {
        let products = [
            #"{"id":7,"sku":"A-1","name":"Caf\u00e9 &amp; T\u00e9","meta_data":[{"key":"_altek_last_cost","value":"3.5"}],"images":[{"src":"https://x/a.jpg"}]}"#,
            #"{"name":"no id"}"#,
            #" 5 "#,
            #"{"id":"8"}"#,
            #"{"id":9,"attributes":[{"option":"Blue"}],"parent_id":7,"deep":[[[{"a":[1,{"b":null}]}]]]}"#,
        ]
        let payload = Array((#"{"products":[ "# + products.joined(separator: " ,\n") + " ]}").utf8)
        let list = try #require(ProductPage.list(in: payload))
        let read = try ProductPage.products(in: payload, list: list)
        let expected = try elements(payload, list)
        #expect(read.count == 5)
        #expect(read.map(\.bytes) == expected.map(\.0))
        #expect(read.map { try? $0.product.get() } == expected.map(\.1))
        #expect(read.map { (try? $0.product.get())?.id } == [7, nil, nil, nil, 9])
        #expect((try? read[0].product.get())?.name == "Café & Té")
        #expect((try? read[4].product.get())?.attributeValues == ["Blue"])
    }

    @Test func aListThatIsNotWellFormedFailsWhole() throws {
        for broken in [#"{"products":[{"id":1},{"id":2,]}"#, #"{"products":[{"id":1} {"id":2}]}"#, #"{"products":[{"id":1},"#,
                       #"{"products":[{"id":1,"x":tru}]}"#, #"{"products":[{"id":"1}]}"#] {
            let payload = Array(broken.utf8)
            let list = try #require(ProductPage.list(in: payload))
            #expect(throws: JSONScanError.self, "\(broken)") { try ProductPage.products(in: payload, list: list) }
            #expect(throws: JSONScanError.self, "\(broken)") { try self.elements(payload, list) }
        }
        #expect(try ProductPage.products(in: Array(#"{"products":[]}"#.utf8), list: 12..<15).isEmpty)
    }

    @Test func bothReadersNestAlikeAtTheLimit() throws {
        for depth in 60...66 {
            let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let payload = Array(#"{"products":[{"id":1,"deep":\#(nested)},{"id":2}]}"#.utf8)
            let list = try #require(ProductPage.list(in: payload))
            let read = try? ProductPage.products(in: payload, list: list)
            let expected = try? elements(payload, list)
            #expect((read == nil) == (expected == nil), "nested \(depth) deep")
            #expect(read?.map(\.bytes) == expected?.map(\.0), "nested \(depth) deep")
        }
    }

    @Test func aReaderThatDoesNotMoveForwardIsAnError() {
        let bytes = Array("[1,2]".utf8)
        #expect(throws: JSONScanError.self) { try JSONScanner.forEachElement(of: bytes, in: 0..<5, reading: { $0 }) }
        #expect(throws: JSONScanError.self) { try JSONScanner.forEachElement(of: bytes, in: 0..<5, reading: { _ in 99 }) }
    }

    @Test func readingAnObjectsMembersSaysWhereItEnds() throws {
        let bytes = Array(#"[{"a":1, "b":{"c":[2]}} , 3]"#.utf8)
        let end = try JSONScanner.forEachMember(of: bytes, in: 1..<bytes.count, named: [Array("b".utf8)]) { _, _ in }
        #expect(Array(bytes[1..<end]) == Array(#"{"a":1, "b":{"c":[2]}}"#.utf8))
    }
}
