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

    /// The products of a page's list (from ``list(in:)``), each with where it sits in the payload, read in one scan:
    /// each product is read where it starts and says where it ends. One that is not a product is a failure of its
    /// own; throws ``JSONScanError`` when the list is not a well-formed JSON array.
    public static func products(in payload: [UInt8], list: Range<Int>) throws -> [(bytes: Range<Int>, product: Result<Product, ProductError>)] {
        var products: [(bytes: Range<Int>, product: Result<Product, ProductError>)] = []
        try JSONScanner.forEachElement(of: payload, in: list) { start in
            var end = start
            do throws(ProductError) {
                let product = try Product(json: payload, at: start, end: &end)
                products.append((start..<end, .success(product)))
            } catch {
                // Not a product, but maybe well-formed JSON: skipped over, or the list fails here.
                try JSONScanner.skipValue(in: payload, from: &end)
                products.append((start..<end, .failure(error)))
            }
            return end
        }
        return products
    }

    private static let listName = Array("products".utf8)
}
