import Foundation
import QueueCore

/// The members of a delivered product or order that routing needs, read without building the whole tree.
struct WooResource {
    var id: Int64?
    var sku: String?
    var parentID: Int64?
    var number: String?
    var total: String?
    var currency: String?
    /// `date_modified_gmt`: ISO time without zone, so text order is time order.
    var modifiedGMT: String?
    var lineItems: [JSONValue] = []

    /// Validates the body as one JSON object and reads the members routing uses.
    init(body: [UInt8]) throws(RoutingError) {
        var lineItemsRange: Range<Int>?
        do {
            guard body.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "{") else { throw RoutingError.notAnObject }
            try JSONScanner.forEachMember(of: body) { name, range in
                switch name {
                case "id": id = try? JSONScanner.integer(in: body, range)
                case "parent_id": parentID = try? JSONScanner.integer(in: body, range)
                case "sku": sku = try? JSONScanner.string(in: body, range)
                case "number": number = try? JSONScanner.string(in: body, range)
                case "total": total = try? JSONScanner.string(in: body, range)
                case "currency": currency = try? JSONScanner.string(in: body, range)
                case "date_modified_gmt": modifiedGMT = try? JSONScanner.string(in: body, range)
                case "line_items": lineItemsRange = range
                default: break
                }
            }
        } catch let error as RoutingError {
            throw error
        } catch {
            throw .invalidJSON("\(error)")
        }
        if let lineItemsRange, case .array(let items) = try? JSONValue.parse(Array(body[lineItemsRange])) {
            lineItems = items
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
            writer.field("sku", item["sku"].flatMap(Self.string))
            writer.field("qty", item["quantity"].flatMap(Self.integer))
            writer.field("total", item["total"].flatMap(Self.string))
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
            writer.field("product_id", item["product_id"].flatMap(Self.integer))
            writer.field("variation_id", item["variation_id"].flatMap(Self.integer))
            writer.field("sku", item["sku"].flatMap(Self.string))
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    private static func string(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): text
        case .number(let number): number == number.rounded() ? String(Int64(number)) : String(number)
        default: nil
        }
    }

    private static func integer(_ value: JSONValue) -> Int64? {
        switch value {
        case .number(let number) where number == number.rounded(): Int64(number)
        case .string(let text): Int64(text)
        default: nil
        }
    }
}
