import Parsing

/// A page of products in one upsert job, `{"products": [product, …]}`: how `bootstrap` and `reconcile` enqueue
/// the catalogue, a REST page at a time.
public enum ProductPage {
    /// The payload of a page job holding `bodies`, each a product's JSON as the store sent it.
    public static func payload(_ bodies: some Sequence<[UInt8]>) -> [UInt8] {
        var payload = Array(#"{"products":["#.utf8)
        for (index, body) in bodies.enumerated() {
            if index > 0 { payload.append(UInt8(ascii: ",")) }
            payload += body
        }
        payload += Array("]}".utf8)
        return payload
    }

    /// Where the list of a page job's payload starts; nil for a payload of one product. Told by the first
    /// member's name, without reading the rest (the envelope was checked to be valid JSON when it was read).
    public static func list(in payload: [UInt8]) -> Range<Int>? {
        JSONScanner.valueOfFirstMember(named: listName, in: payload).map { $0..<payload.count }
    }

    private static let listName = Array("products".utf8)
}
