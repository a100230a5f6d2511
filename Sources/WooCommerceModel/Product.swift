import Parsing

/// The members of a WooCommerce product or variation (REST API v3 shape, which is also a webhook body) that
/// `inv_items` takes, read without building the whole tree: the top level is scanned once and only the small
/// nested members used (images, categories, dimensions, meta data, attributes) are parsed.
public struct Product: Sendable, Equatable {
    public var id: Int64
    /// The variable product a variation belongs to; 0 for a product.
    public var parentID: Int64
    public var sku: String?
    /// The name with its HTML character references decoded (WordPress stores `Café &amp; Té`).
    public var name: String?
    /// `date_modified_gmt` as sent (`2026-11-20T15:03:11`, UTC without a zone).
    public var modifiedGMT: String?
    /// `stock_quantity` as a number's text; `nil` when stock is not managed.
    public var stockQuantity: String?
    /// `regular_price`; `nil` when empty.
    public var regularPrice: String?
    /// The featured image of a product (`images[0]`) or the image of a variation.
    public var imageURL: String?
    /// The first category's id (products only; variations take their parent's).
    public var categoryID: Int64?
    /// `short_description` as plain text; `nil` when empty.
    public var shortDescription: String?
    /// Meta `_altek_last_cost`, when present and numeric.
    public var lastCost: String?
    /// `dimensions.height` / `.width` when numeric.
    public var height: String?
    public var width: String?
    /// A variation's attribute values in order (`["Blue", "M"]`), character references decoded.
    public var attributeValues: [String]
    /// `type` is `variable`: its variations are products of their own (`/products/<id>/variations`).
    public var isVariable: Bool

    public var isVariation: Bool { parentID != 0 }

    public init(id: Int64, parentID: Int64 = 0, sku: String? = nil, name: String? = nil, modifiedGMT: String? = nil,
                stockQuantity: String? = nil, regularPrice: String? = nil, imageURL: String? = nil, categoryID: Int64? = nil,
                shortDescription: String? = nil, lastCost: String? = nil, height: String? = nil, width: String? = nil,
                attributeValues: [String] = [], isVariable: Bool = false) {
        self.id = id
        self.parentID = parentID
        self.sku = sku
        self.name = name
        self.modifiedGMT = modifiedGMT
        self.stockQuantity = stockQuantity
        self.regularPrice = regularPrice
        self.imageURL = imageURL
        self.categoryID = categoryID
        self.shortDescription = shortDescription
        self.lastCost = lastCost
        self.height = height
        self.width = width
        self.attributeValues = attributeValues
        self.isVariable = isVariable
    }

    /// Reads a product or variation, the whole of `bytes` or the object at `range`; throws ``ProductError`` when
    /// it is not one (a permanent failure).
    public init(json bytes: [UInt8], in range: Range<Int>? = nil) throws(ProductError) {
        var end = 0
        try self.init(json: bytes, in: range, asElement: false, end: &end)
    }

    /// Reads the product or variation object that starts at `start`, an element of a list, and sets `end` to where
    /// it ends: the way to read a page's products in one scan (``JSONScanner/forEachElement(of:in:reading:)``). When
    /// it throws, `end` is unchanged.
    public init(json bytes: [UInt8], at start: Int, end: inout Int) throws(ProductError) {
        try self.init(json: bytes, in: start..<bytes.count, asElement: true, end: &end)
    }

    private init(json bytes: [UInt8], in range: Range<Int>?, asElement: Bool, end: inout Int) throws(ProductError) {
        var id: Int64?
        var parentID: Int64 = 0
        var sku: String?, name: String?, modified: String?, stock: String?, price: String?, image: String?
        var category: Int64?, short: String?, lastCost: String?, height: String?, width: String?
        var attributeValues: [String] = []
        var isVariable = false
        var objectEnd = 0
        do {
            objectEnd = try JSONScanner.forEachMember(of: bytes, in: range, named: Member.names, asElement: asElement) { member, range in
                switch Member(rawValue: member)! {
                case .id: id = try JSONScanner.integer(in: bytes, range)
                case .parentID: parentID = (try? JSONScanner.integer(in: bytes, range)) ?? 0
                case .sku: sku = try? JSONScanner.string(in: bytes, range)
                case .name: name = (try? JSONScanner.string(in: bytes, range)).flatMap { $0 }.map(HTMLText.decodingEntities)
                case .type: isVariable = (try? JSONScanner.string(in: bytes, range)) == "variable"
                case .modified: modified = try? JSONScanner.string(in: bytes, range)
                case .stock: stock = Self.number(bytes, range)
                case .price: price = Self.number(bytes, range)
                case .shortDescription:
                    if let html = try? JSONScanner.string(in: bytes, range) {
                        let text = HTMLText.plain(html)
                        short = text.isEmpty ? nil : text
                    }
                case .images: image = Self.firstElement(bytes, range).flatMap { Self.string(bytes, $0, member: Nested.src) }
                case .image: image = Self.string(bytes, range, member: Nested.src) ?? image
                case .categories:
                    category = Self.firstElement(bytes, range).flatMap { Self.member(bytes, $0, Nested.id) }.flatMap { try? JSONScanner.integer(in: bytes, $0) }
                case .dimensions:
                    try? JSONScanner.forEachMember(of: bytes, in: range, named: Nested.sizes) { size, value in
                        if size == 0 { height = Self.number(bytes, value) } else { width = Self.number(bytes, value) }
                    }
                case .metaData:
                    try? JSONScanner.forEachElement(of: bytes, in: range) { meta in
                        guard Self.string(bytes, meta, member: Nested.key) == "_altek_last_cost" else { return true }
                        lastCost = Self.member(bytes, meta, Nested.value).flatMap { Self.number(bytes, $0) }
                        return false
                    }
                case .attributes:
                    // A variation's attributes carry one `option` each; a product's carry `options` lists.
                    try? JSONScanner.forEachElement(of: bytes, in: range) { attribute in
                        if let option = Self.string(bytes, attribute, member: Nested.option) {
                            attributeValues.append(HTMLText.decodingEntities(option))
                        }
                        return true
                    }
                }
            }
        } catch {
            throw ProductError("not a WooCommerce product: \(error)")
        }
        guard let id, id > 0 else { throw ProductError("not a WooCommerce product: no positive \"id\"") }
        end = objectEnd
        self.init(id: id, parentID: parentID, sku: sku, name: name, modifiedGMT: modified, stockQuantity: stock,
                  regularPrice: price, imageURL: image, categoryID: category, shortDescription: short,
                  lastCost: lastCost, height: height, width: width, attributeValues: attributeValues, isVariable: isVariable)
    }

    /// The members read, in the order of ``names``.
    private enum Member: Int, CaseIterable {
        case id, parentID, sku, name, type, modified, stock, price, shortDescription, images, image, categories, dimensions
        case metaData, attributes

        static let names: [[UInt8]] = [
            "id", "parent_id", "sku", "name", "type", "date_modified_gmt", "stock_quantity", "regular_price",
            "short_description", "images", "image", "categories", "dimensions", "meta_data", "attributes",
        ].map { Array($0.utf8) }
    }

    /// Names of the nested members read, made once.
    private enum Nested {
        static let src = [Array("src".utf8)], id = [Array("id".utf8)], key = [Array("key".utf8)], value = [Array("value".utf8)]
        static let option = [Array("option".utf8)]
        /// `dimensions`: height, then width.
        static let sizes = [Array("height".utf8), Array("width".utf8)]
    }

    /// The range of the first element of the array at `range`.
    private static func firstElement(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int>? {
        var first: Range<Int>?
        try? JSONScanner.forEachElement(of: bytes, in: range) { first = $0; return false }
        return first
    }

    /// The value range of member `name` (one of ``Nested``) of the object at `range`.
    private static func member(_ bytes: [UInt8], _ range: Range<Int>, _ name: [[UInt8]]) -> Range<Int>? {
        var found: Range<Int>?
        try? JSONScanner.forEachMember(of: bytes, in: range, named: name) { _, value in found = value }
        return found
    }

    /// The string member `member` (one of ``Nested``) of the object at `range`.
    private static func string(_ bytes: [UInt8], _ range: Range<Int>, member name: [[UInt8]]) -> String? {
        member(bytes, range, name).flatMap { (try? JSONScanner.string(in: bytes, $0)) ?? nil }
    }

    /// A JSON number, or a string holding one (WooCommerce sends money as strings), as its text.
    private static func number(_ bytes: [UInt8], _ range: Range<Int>) -> String? {
        guard let first = bytes[range].first else { return nil }
        if first == UInt8(ascii: "\"") { return (try? JSONScanner.string(in: bytes, range)).flatMap { $0 }.flatMap(DecimalText.check) }
        if first == UInt8(ascii: "n") { return nil }  // null
        return DecimalText.check(String(decoding: bytes[range], as: UTF8.self))
    }
}

/// A job payload that is not a WooCommerce product.
public struct ProductError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Checks decimal text for PostgreSQL's `numeric`.
enum DecimalText {
    /// The text without surrounding spaces when it is a plain decimal number (`12`, `-3.5`, ` 21.99 `), else `nil`
    /// (`""`, `"n/a"`, `1e3`, `1 2`). Reads the bytes in place: it runs for every numeric member of every product.
    static func check(_ raw: String) -> String? {
        let bytes = raw.utf8
        guard let first = bytes.firstIndex(where: { $0 != 0x20 }), let last = bytes.lastIndex(where: { $0 != 0x20 }) else { return nil }
        let text = bytes[first...last]
        var digits = 0, dots = 0
        for (offset, byte) in text.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "."): dots += 1
            case UInt8(ascii: "-") where offset == 0: break
            default: return nil
            }
        }
        guard digits > 0, dots <= 1 else { return nil }
        return text.count == bytes.count ? raw : String(decoding: text, as: UTF8.self)
    }
}
