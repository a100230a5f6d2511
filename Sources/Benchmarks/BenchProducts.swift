import Foundation
/// WooCommerce-shaped product bodies for the benchmarks: the fixture product-simple.json on one line, with its
/// own id, SKU, stock and modification time per product.
enum BenchProducts {
    /// A product body. `index` gives id `100000 + index` and SKU `BENCH-<index>`.
    static func body(index: Int, modified: String = "2026-11-20T15:03:11", stock: Int = 12) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segments.reduce(0) { $0 + $1.count } + 64)
        let values = [String(100_000 + index), "BENCH-\(index)", modified, String(stock)]
        for (position, segment) in segments.enumerated() {
            bytes += segment
            if position < values.count { bytes += values[position].utf8 }
        }
        return bytes
    }

    /// The template cut at its four blanks: id, SKU, date_modified_gmt, stock_quantity.
    private static let segments: [[UInt8]] = {
        var parts: [[UInt8]] = []
        var rest = Substring(template)
        for marker in ["{ID}", "{SKU}", "{MODIFIED}", "{STOCK}"] {
            let range = rest.range(of: marker)!
            parts.append(Array(rest[..<range.lowerBound].utf8))
            rest = rest[range.upperBound...]
        }
        parts.append(Array(rest.utf8))
        return parts
    }()

    private static let template = #"""
        {"id": {ID}, "name": "Premium Quality Tee", "slug": "premium-quality-tee", "permalink": "https://shop.example.com/product/premium-quality-tee/", \#
        "date_created": "2026-10-01T09:12:44", "date_created_gmt": "2026-10-01T14:12:44", "date_modified": "2026-11-20T10:03:11", \#
        "sku": "{SKU}", "date_modified_gmt": "{MODIFIED}", "type": "simple", "status": "publish", "featured": false, "catalog_visibility": "visible", \#
        "description": "<p>Long description.</p>\n", "short_description": "<p>Short <strong>description</strong>.</p>\n", \#
        "price": "21.99", "regular_price": "21.99", "sale_price": "", "on_sale": false, "purchasable": true, \#
        "total_sales": 3, "virtual": false, "downloadable": false, "tax_status": "taxable", "tax_class": "", "manage_stock": true, \#
        "stock_quantity": {STOCK}, "stock_status": "instock", "backorders": "no", "weight": "0.5", \#
        "dimensions": {"length": "20", "width": "15.5", "height": "4"}, "shipping_class": "", "shipping_class_id": 0, "parent_id": 0, \#
        "categories": [{"id": 9, "name": "Clothing", "slug": "clothing"}, {"id": 14, "name": "T-shirts", "slug": "t-shirts"}], \#
        "tags": [], "images": [{"id": 792, "date_created_gmt": "2026-10-01T14:12:40", \#
        "src": "https://shop.example.com/wp-content/uploads/2026/10/front.jpg", "name": "front", "alt": ""}], \#
        "attributes": [], "default_attributes": [], "variations": [], "grouped_products": [], "menu_order": 0, \#
        "meta_data": [{"id": 1201, "key": "_altek_last_cost", "value": "14.20"}]}
        """#
}
