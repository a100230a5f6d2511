public import WooCommerceModel

/// The `inv_items` columns wooqueue writes, in the order of MISSION.md's mapping table.
public enum InventoryColumn: String, CaseIterable, Sendable {
    case item, codigobarras, nombre, nombreweb, existencia, costoestandar, costopromedio, id_altek, imagen, bloqueado
    case costoultimacompra, idcategoria, observaciones, alto, ancho

    /// Columns the table must have; the others are written when present.
    public static let required: [InventoryColumn] = [.item]

    /// Position in ``allCases``, for array-backed rows.
    var ordinal: Int {
        switch self {
        case .item: 0
        case .codigobarras: 1
        case .nombre: 2
        case .nombreweb: 3
        case .existencia: 4
        case .costoestandar: 5
        case .costopromedio: 6
        case .id_altek: 7
        case .imagen: 8
        case .bloqueado: 9
        case .costoultimacompra: 10
        case .idcategoria: 11
        case .observaciones: 12
        case .alto: 13
        case .ancho: 14
        }
    }
}

/// What a variation takes from its parent product.
public struct ParentProduct: Sendable, Equatable {
    public var name: String?
    public var imageURL: String?
    public var categoryID: Int64?

    public init(name: String?, imageURL: String?, categoryID: Int64?) {
        self.name = name
        self.imageURL = imageURL
        self.categoryID = categoryID
    }
}

/// One product mapped to `inv_items` values (text, as PostgreSQL reads them; `nil` is NULL).
public struct InventoryRow: Sendable, Equatable {
    /// Indexed by ``InventoryColumn/ordinal``.
    private var values: [String?]

    /// Maps a product, or a variation together with its parent. Returns `nil` for a product without a SKU.
    public init?(_ product: Product, parent: ParentProduct? = nil) {
        guard let raw = product.sku, let item = SKU.normalize(raw) else { return nil }
        let name: String?
        if product.isVariation, let parentName = parent?.name ?? product.name {
            name = product.attributeValues.isEmpty ? parentName : "\(parentName) - \(product.attributeValues.joined(separator: ", "))"
        } else {
            name = product.name
        }
        let category = product.isVariation ? parent?.categoryID ?? product.categoryID : product.categoryID
        // In InventoryColumn order.
        values = [
            item,
            raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " "),
            name,
            name,
            product.stockQuantity ?? "0",
            product.regularPrice,
            product.regularPrice,
            String(product.id),
            product.imageURL ?? parent?.imageURL,
            "false",
            product.lastCost,
            category.map(String.init),
            product.shortDescription,
            product.height,
            product.width,
        ]
    }

    public subscript(column: InventoryColumn) -> String? {
        get { values[column.ordinal] }
        set { values[column.ordinal] = newValue }
    }
}

extension String {
    /// The longest prefix of at most `limit` characters as PostgreSQL counts them (Unicode scalars) that does not
    /// split a character as people see it (`e` + combining accent stays whole), or `nil` when no cut is needed.
    func truncated(toScalars limit: Int) -> String? {
        // UTF-8 length bounds the scalar count and costs nothing: most values are decided here.
        guard utf8.count > limit, unicodeScalars.count > limit else { return nil }
        var kept = 0
        var end = startIndex
        for character in self {
            let size = character.unicodeScalars.count
            if kept + size > limit { break }
            kept += size
            end = index(after: end)
        }
        return String(self[..<end])
    }
}
