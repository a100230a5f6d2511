/// SKU normalization shared by every comparison between the store and `inv_items`.
///
/// The database applies the same rule through `<state schema>.sku_key(text)` (see ``InventorySchema``), on which
/// the unique index of `inv_items` is built; the two must stay in step.
public enum SKU {
    /// Width numeric SKUs are padded to.
    public static let numericWidth = 9

    /// Trims spaces, tabs and line breaks; an all-digit SKU shorter than 9 is left-padded with zeros
    /// (`" 123 "` → `"000000123"`). Returns `nil` for an empty SKU: such products are not written.
    public static func normalize(_ raw: String) -> String? {
        var bytes = Substring(raw).utf8[...]
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        while let first = bytes.first, blank(first) { bytes.removeFirst() }
        while let last = bytes.last, blank(last) { bytes.removeLast() }
        if bytes.isEmpty { return nil }
        let trimmed = String(Substring(bytes))
        if bytes.count < numericWidth, bytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return String(repeating: "0", count: numericWidth - bytes.count) + trimmed
        }
        return trimmed
    }

    /// The form SKUs are compared in: normalized, then upper-cased (`" abc-1 "` and `"ABC-1"` are one product).
    public static func key(_ raw: String) -> String? {
        normalize(raw)?.uppercased()
    }
}
