import Foundation

/// SKU normalization shared by every comparison between the store and `inv_items`.
public enum SKU {
    /// Width numeric SKUs are padded to.
    public static let numericWidth = 9

    /// Trims white space; an all-digit SKU shorter than 9 is left-padded with zeros (`" 123 "` → `"000000123"`).
    /// Returns `nil` for an empty SKU: such products are not written.
    public static func normalize(_ raw: String) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return nil }
        if trimmed.count < numericWidth, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return String(repeating: "0", count: numericWidth - trimmed.count) + trimmed
        }
        return trimmed
    }
}
