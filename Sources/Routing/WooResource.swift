import Foundation
import Parsing

/// The members of a delivered product or order that routing needs, read without building the whole tree.
///
/// Numbers are read from their text, never through a `Double` conversion that could trap: an id or a quantity
/// must be a whole number that every JSON reader keeps exact (at most ±(2^53 − 1)), or the delivery is refused
/// with the member and value named.
struct WooResource {
    /// A line of an order: what the ERP and stock payloads carry.
    struct LineItem {
        var sku: String?
        var quantity: Int64?
        var total: String?
        var productID: Int64?
        var variationID: Int64?
    }

    var id: Int64?
    var sku: String?
    var number: String?
    var total: String?
    var currency: String?
    /// `date_modified_gmt`: ISO time without zone, so text order is time order.
    var modifiedGMT: String?
    var lineItems: [LineItem] = []
    /// The top-level member names, for the check that the body fits its topic.
    private var memberNames: [String] = []

    /// The largest whole number a JSON reader that stores numbers as doubles (PHP, JavaScript, ours) keeps exact.
    static let largestExactInteger: Int64 = (1 << 53) - 1

    /// Validates the body as one JSON object and reads the members routing uses.
    init(body: [UInt8]) throws(RoutingError) {
        var lineItemsRange: Range<Int>?
        do {
            guard body.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "{") else { throw RoutingError.notAnObject }
            try JSONScanner.forEachMember(of: body) { name, range in
                memberNames.append(name)
                switch name {
                case "id": id = try Self.wholeNumber(body, range, "id")
                case "sku": sku = try Self.text(body, range, "sku")
                case "number": number = try Self.text(body, range, "number")
                case "total": total = try Self.text(body, range, "total")
                case "currency": currency = try Self.text(body, range, "currency")
                case "date_modified_gmt": modifiedGMT = try? JSONScanner.string(in: body, range)
                case "line_items": lineItemsRange = range
                default: break
                }
            }
            if let lineItemsRange { lineItems = try Self.lineItems(body, lineItemsRange) }
        } catch let error as RoutingError {
            throw error
        } catch {
            throw .invalidJSON("\(error)")
        }
    }

    /// Refuses a body that cannot be what its topic says. WooCommerce signs only the body, so whoever captured a
    /// delivery can resend it under another topic: an order replayed as `product.deleted` must not block a row.
    ///
    /// - `<resource>.deleted` carries `{"id": N}` and nothing else (WooCommerce's `build_payload`);
    /// - other `product.*` topics carry a product: a positive `id` and a `sku`, and no `line_items` or `order_key`;
    /// - other `order.*` topics carry an order: a positive `id` and `line_items`;
    /// - any other topic carries a JSON object.
    func check(fits topic: String) throws(RoutingError) {
        let parts = topic.split(separator: ".", maxSplits: 1)
        guard parts.count == 2 else { return }
        let (resource, event) = (parts[0], parts[1])
        func refuse(_ reason: String) -> RoutingError { .bodyDoesNotFitTopic(topic: topic, reason: reason) }
        if event == "deleted", ["product", "order", "coupon", "customer"].contains(resource) {
            guard memberNames == ["id"] else {
                throw refuse("a deletion carries only {\"id\": N}, this body has \(memberNames.count) members (\(Self.listed(memberNames)))")
            }
        }
        guard resource == "product" || resource == "order" || event == "deleted" else { return }
        guard let id, id > 0 else { throw refuse("it has no positive integer \"id\"") }
        guard event != "deleted" else { return }
        if resource == "product" {
            if let foreign = memberNames.first(where: { $0 == "line_items" || $0 == "order_key" }) {
                throw refuse("a product has no \"\(foreign)\": this body is an order")
            }
            guard memberNames.contains("sku") else { throw refuse("a product has a \"sku\" member, this body has none") }
        } else {
            guard memberNames.contains("line_items") else { throw refuse("an order has \"line_items\", this body has none") }
        }
    }

    /// What the job is about, for events and search: the SKU of a product (else its id), the number of an order.
    func key(topic: String) -> String? {
        if topic.hasPrefix("order.") { return number.map { "order:\($0)" } ?? id.map { "order:\($0)" } }
        if let sku = sku?.trimmingCharacters(in: .whitespaces), !sku.isEmpty { return sku }
        return id.map { "\(topic.split(separator: ".").first ?? "item"):\($0)" }
    }

    /// The ERP's order payload: number, total, currency and items (sku, qty, total).
    func erpOrder() -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("order_number", number ?? id.map(String.init))
        writer.field("order_id", id)
        writer.field("total", total)
        writer.field("currency", currency)
        writer.beginArray("items")
        for item in lineItems {
            writer.beginElementObject()
            writer.field("sku", item.sku)
            writer.field("qty", item.quantity)
            writer.field("total", item.total)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// For `stock_sync`: which products and variations the order touched, to re-read their stock from the store.
    func orderStock() -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("order_number", number ?? id.map(String.init))
        writer.field("order_id", id)
        writer.beginArray("items")
        for item in lineItems {
            writer.beginElementObject()
            writer.field("product_id", item.productID)
            writer.field("variation_id", item.variationID)
            writer.field("sku", item.sku)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    // MARK: - Reading members

    private static let lineItemMembers: [[UInt8]] = ["sku", "quantity", "total", "product_id", "variation_id"].map { Array($0.utf8) }

    private static func lineItems(_ body: [UInt8], _ range: Range<Int>) throws -> [LineItem] {
        guard body[range.lowerBound] == UInt8(ascii: "[") else {
            if body[range].elementsEqual("null".utf8) { return [] }
            throw RoutingError.invalidMember("line_items must be an array")
        }
        var items: [LineItem] = []
        try JSONScanner.forEachElement(of: body, in: range) { element in
            let position = "line_items[\(items.count)]"
            guard body[element.lowerBound] == UInt8(ascii: "{") else { throw RoutingError.invalidMember("\(position) must be an object") }
            var item = LineItem()
            try JSONScanner.forEachMember(of: body, in: element, named: lineItemMembers) { member, value in
                switch member {
                case 0: item.sku = try text(body, value, "\(position).sku")
                case 1: item.quantity = try wholeNumber(body, value, "\(position).quantity")
                case 2: item.total = try text(body, value, "\(position).total")
                case 3: item.productID = try wholeNumber(body, value, "\(position).product_id")
                default: item.variationID = try wholeNumber(body, value, "\(position).variation_id")
                }
            }
            items.append(item)
            return true
        }
        return items
    }

    /// A whole number written as a JSON number (`2`, `2.0`) or a string of one (`"2"`), within
    /// ±``largestExactInteger``; `nil` for `null` or `""`.
    static func wholeNumber(_ body: [UInt8], _ range: Range<Int>, _ name: String) throws -> Int64? {
        let text: String
        switch body[range.lowerBound] {
        case UInt8(ascii: "n"): return nil
        case UInt8(ascii: "\""):
            text = try JSONScanner.string(in: body, range) ?? ""
            if text.isEmpty { return nil }
        default:
            text = String(decoding: body[range], as: UTF8.self)
        }
        let value = Int64(text) ?? Double(text).flatMap { $0 == $0.rounded(.towardZero) ? Int64(exactly: $0) : nil }
        guard let value, (-largestExactInteger...largestExactInteger).contains(value) else {
            throw RoutingError.invalidMember("\(name) must be a whole number between -\(largestExactInteger) and \(largestExactInteger), got \(clipped(text))")
        }
        return value
    }

    /// A string member, or a number's literal text (an SKU may arrive as a number); `nil` for `null`.
    private static func text(_ body: [UInt8], _ range: Range<Int>, _ name: String) throws -> String? {
        switch body[range.lowerBound] {
        case UInt8(ascii: "\""), UInt8(ascii: "n"): return try JSONScanner.string(in: body, range)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return String(decoding: body[range], as: UTF8.self)
        default: throw RoutingError.invalidMember("\(name) must be a string or a number")
        }
    }

    /// At most 40 characters of a value, for an error message.
    private static func clipped(_ text: String) -> String {
        text.count > 40 ? "\(text.prefix(40))…" : text
    }

    private static func listed(_ names: [String]) -> String {
        names.prefix(5).map { "\"\(clipped($0))\"" }.joined(separator: ", ") + (names.count > 5 ? ", …" : "")
    }
}
