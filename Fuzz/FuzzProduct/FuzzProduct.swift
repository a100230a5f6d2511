import FuzzSupport
import Parsing
import WooCommerceModel

/// libFuzzer target: products and page jobs (`{"products": [...]}`) as the inventory handler reads them. Never
/// traps; a product it accepts has a positive id. A page's list is read in one scan, as the handler does
/// (`ProductPage.products`), and must agree with reading it element by element: the same ranges and products, and
/// failing exactly when that does.
@main enum FuzzProduct {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzInput(data, count)
    if let product = try? Product(json: bytes), product.id <= 0 { fatalError("product with id \(product.id)") }
    if let list = ProductPage.list(in: bytes) {
        var elements: [(Range<Int>, Product?)] = []
        let scanned: Void? = try? JSONScanner.forEachElement(of: bytes, in: list) { element in
            let product = try? Product(json: bytes, in: element)
            if let product, product.id <= 0 { fatalError("product with id \(product.id)") }
            elements.append((element, product))
            return true
        }
        let read = try? ProductPage.products(in: bytes, list: list)
        guard (scanned == nil) == (read == nil) else { fatalError("one-scan reading \(read == nil ? "failed" : "succeeded") where the element scan did not") }
        if let read {
            guard read.count == elements.count else { fatalError("\(read.count) products read, \(elements.count) elements") }
            for (one, (range, product)) in zip(read, elements) {
                guard one.bytes == range, (try? one.product.get()) == product else { fatalError("product at \(range) read differently") }
            }
        }
    }
    return 0
}
