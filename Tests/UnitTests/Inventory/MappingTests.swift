import Inventory
import Parsing
import TestSupport
import Testing
import WooCommerceModel

@Suite("Product mapping")
struct MappingTests {
    private func row(_ name: String, parent: ParentProduct? = nil) throws -> InventoryRow? {
        InventoryRow(try Product(json: Fixtures.bytes(name)), parent: parent)
    }

    @Test("SKU normalization: trim, pad short numeric SKUs to 9, compare case-insensitively")
    func skuNormalization() {
        #expect(SKU.normalize(" 123 ") == "000000123")
        #expect(SKU.normalize("\t12345\r\n") == "000012345")
        #expect(SKU.normalize("12345678") == "012345678")
        #expect(SKU.normalize("123456789") == "123456789")
        #expect(SKU.normalize("1234567890") == "1234567890")
        #expect(SKU.normalize("0") == "000000000")
        #expect(SKU.normalize("-12") == "-12")
        #expect(SKU.normalize("12 34") == "12 34")
        #expect(SKU.normalize(" tee-1 ") == "tee-1")
        #expect(SKU.normalize("  ") == nil)
        #expect(SKU.normalize("") == nil)
        #expect(SKU.key(" tee-1 ") == "TEE-1")
        #expect(SKU.key("123") == SKU.key("000000123"))
    }

    @Test("a simple product maps field by field")
    func simpleProduct() throws {
        let row = try #require(try row("product-simple.json"))
        #expect(row[.item] == "TEE-PQ-001")
        #expect(row[.codigobarras] == "TEE-PQ-001")
        #expect(row[.nombre] == "Premium Quality Tee")
        #expect(row[.nombreweb] == "Premium Quality Tee")
        #expect(row[.existencia] == "12")
        #expect(row[.costoestandar] == "21.99")
        #expect(row[.costopromedio] == "21.99")
        #expect(row[.id_altek] == "794")
        #expect(row[.imagen] == "https://shop.example.com/wp-content/uploads/2026/10/front.jpg")
        #expect(row[.bloqueado] == "false")
        #expect(row[.costoultimacompra] == "14.20")
        #expect(row[.idcategoria] == "9")  // the first of two categories
        #expect(row[.observaciones] == "Short description.")
        #expect(row[.alto] == "4")
        #expect(row[.ancho] == "15.5")
    }

    @Test("numeric SKU padded, accents kept, non-numeric and empty dimensions left out")
    func numericSKU() throws {
        let row = try #require(try row("product-numeric-sku.json"))
        #expect(row[.item] == "000012345")
        #expect(row[.codigobarras] == "12345")
        #expect(row[.nombre] == "Café de Colombia 500 g")
        #expect(row[.alto] == nil)  // "n/a"
        #expect(row[.ancho] == "12")
        #expect(row[.observaciones] == nil)  // "" short description
        #expect(row[.costoultimacompra] == nil)  // no meta
    }

    @Test("unmanaged stock is 0; empty prices, no image and no category are NULL")
    func unmanagedStock() throws {
        let product = try Product(json: Fixtures.bytes("product-unmanaged-stock.json"))
        #expect(product.stockQuantity == nil)
        let row = try #require(InventoryRow(product))
        #expect(row[.existencia] == "0")
        #expect(row[.costoestandar] == nil)
        #expect(row[.costopromedio] == nil)
        #expect(row[.imagen] == nil)
        #expect(row[.idcategoria] == nil)
    }

    @Test("a product without SKU is not mapped")
    func noSKU() throws {
        #expect(try row("product-no-sku.json") == nil)
        #expect(InventoryRow(Product(id: 1, sku: "   ")) == nil)
    }

    @Test("a variation: own SKU, price, stock and image; parent name plus attribute values; parent's category")
    func variation() throws {
        let parentProduct = try Product(json: Fixtures.bytes("product-variable.json"))
        let parent = ParentProduct(name: parentProduct.name, imageURL: parentProduct.imageURL, categoryID: parentProduct.categoryID)
        let blue = try #require(try row("variation-901.json", parent: parent))
        #expect(blue[.item] == "HOODIE-BLUE-M")
        #expect(blue[.nombre] == "Hoodie - Blue, M")
        #expect(blue[.existencia] == "7")
        #expect(blue[.costoestandar] == "45.00")
        #expect(blue[.imagen] == "https://shop.example.com/wp-content/uploads/2026/10/hoodie-blue.jpg")
        #expect(blue[.idcategoria] == "9")
        #expect(blue[.id_altek] == "901")
        let green = try #require(try row("variation-902.json", parent: parent))
        #expect(green[.item] == "000987654")
        #expect(green[.existencia] == "0")  // stock not managed
        // Without an image of its own a variation shows its parent's.
        var bare = try Product(json: Fixtures.bytes("variation-901.json"))
        bare.imageURL = nil
        #expect(InventoryRow(bare, parent: parent)?[.imagen] == parentProduct.imageURL)
    }

    @Test("short descriptions: tags dropped, entities decoded, block ends are spaces, inline tags are not")
    func htmlToText() throws {
        let body = Array(#"{"id": 5, "sku": "X", "short_description": "<p>Caf&eacute; <strong>fuerte</strong>.</p><ul><li>100&nbsp;% ar&#225;bica</li><li>R&amp;D &lt;3</li></ul>"}"#.utf8)
        let product = try Product(json: body)
        #expect(product.shortDescription == "Café fuerte. 100 % arábica R&D <3")
    }

    @Test("money as a number, prices with junk, and a payload that is not a product")
    func oddValues() throws {
        let product = try Product(json: Array(#"{"id": 7, "sku": "A", "regular_price": 12.5, "stock_quantity": 3, "dimensions": {"height": "1,5", "width": 2}}"#.utf8))
        #expect(product.regularPrice == "12.5")
        #expect(product.height == nil)
        #expect(product.width == "2")
        #expect(throws: ProductError.self) { try Product(json: Array(#"{"sku": "A"}"#.utf8)) }
        #expect(throws: ProductError.self) { try Product(json: Array("[1]".utf8)) }
    }

    /// WordPress keeps names HTML-encoded; `nombre` and `nombreweb` stored them that way (seen on a real store).
    @Test("names and attribute values arrive HTML-encoded and are written decoded")
    func encodedNamesAreDecoded() throws {
        let product = try Product(json: Array(#"{"id": 5, "sku": "CAFE-1", "name": "Caf\u00e9 &amp; T\u00e9 &quot;Especial&quot; &#8211; 250&nbsp;g"}"#.utf8))
        let row = try #require(InventoryRow(product, parent: nil))
        #expect(row[.nombre] == "Café & Té \"Especial\" – 250 g")
        #expect(row[.nombreweb] == row[.nombre])
        let variation = try Product(json: Array(#"{"id": 6, "parent_id": 5, "sku": "CAFE-1-B", "attributes": [{"name": "Grind", "option": "Fine &amp; dark"}]}"#.utf8))
        let variationRow = try #require(InventoryRow(variation, parent: ParentProduct(name: product.name, imageURL: nil, categoryID: nil)))
        #expect(variationRow[.nombre] == "Café & Té \"Especial\" – 250 g - Fine & dark")
        #expect(HTMLText.decodingEntities("AT&T &unknown; &#xZZ; plain") == "AT&T &unknown; &#xZZ; plain", "what is no entity stays")
        #expect(HTMLText.decodingEntities("a&#0;b&#x1B;c") == "a&#0;b&#x1B;c", "no control character is made")
    }

    @Test("money and sizes are kept only as plain decimal numbers, without surrounding spaces")
    func decimalText() throws {
        let cases: [(String, String?)] = [
            ("21.99", "21.99"), (" 21.99  ", "21.99"), ("-3.5", "-3.5"), ("12", "12"), ("", nil), ("   ", nil), ("n/a", nil),
            ("1e3", nil), ("1 2", nil), ("1.2.3", nil), ("-", nil), ("--1", nil), ("1-", nil), (".5", ".5"), ("١٢", nil),
        ]
        for (text, expected) in cases {
            let product = try Product(json: Array(#"{"id":1,"regular_price":"\#(text)","dimensions":{"height":"\#(text)"}}"#.utf8))
            #expect(product.regularPrice == expected, "\"\(text)\"")
            #expect(product.height == expected, "\"\(text)\"")
        }
        #expect(try Product(json: Array(#"{"id":1,"stock_quantity":-4}"#.utf8)).stockQuantity == "-4")
    }
}
