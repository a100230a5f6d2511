import FuzzSupport
import Parsing
import WooCommerceModel

/// libFuzzer target: products and page jobs (`{"products": [...]}`) as the inventory handler reads them. Never
/// traps; a product it accepts has a positive id; a page's list is read element by element like the handler does.
@main enum FuzzProduct {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzInput(data, count)
    if let product = try? Product(json: bytes), product.id <= 0 { fatalError("product with id \(product.id)") }
    if let list = ProductPage.list(in: bytes) {
        try? JSONScanner.forEachElement(of: bytes, in: list) { element in
            if let product = try? Product(json: bytes, in: element), product.id <= 0 { fatalError("product with id \(product.id)") }
            return true
        }
    }
    return 0
}
