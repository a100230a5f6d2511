/// The `inv_items` columns wooqueue writes, in the order of MISSION.md's mapping table.
public enum InventoryColumn: String, CaseIterable, Sendable {
    case item, codigobarras, nombre, nombreweb, existencia, costoestandar, costopromedio, id_altek, imagen, bloqueado
    case costoultimacompra, idcategoria, observaciones, alto, ancho

    /// Columns the table must have; the others are written when present.
    public static let required: [InventoryColumn] = [.item]
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
    public var values: [InventoryColumn: String]

    /// Maps a product, or a variation together with its parent. Returns `nil` for a product without a SKU.
    public init?(_ product: Product, parent: ParentProduct? = nil) {
        guard let raw = product.sku, let item = SKU.normalize(raw) else { return nil }
        let name: String?
        if product.isVariation, let parentName = parent?.name ?? product.name {
            name = product.attributeValues.isEmpty ? parentName : "\(parentName) - \(product.attributeValues.joined(separator: ", "))"
        } else {
            name = product.name
        }
        var values: [InventoryColumn: String] = [
            .item: item,
            .codigobarras: raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " "),
            .existencia: product.stockQuantity ?? "0",
            .id_altek: String(product.id),
            .bloqueado: "false",
        ]
        values[.nombre] = name
        values[.nombreweb] = name
        values[.costoestandar] = product.regularPrice
        values[.costopromedio] = product.regularPrice
        values[.imagen] = product.imageURL ?? parent?.imageURL
        values[.costoultimacompra] = product.lastCost
        values[.idcategoria] = (product.isVariation ? parent?.categoryID ?? product.categoryID : product.categoryID).map(String.init)
        values[.observaciones] = product.shortDescription
        values[.alto] = product.height
        values[.ancho] = product.width
        self.values = values
    }

    public subscript(column: InventoryColumn) -> String? { values[column] }
}

extension String {
    /// The longest prefix of at most `limit` characters as PostgreSQL counts them (Unicode scalars) that does not
    /// split a character as people see it (`e` + combining accent stays whole), or `nil` when no cut is needed.
    func truncated(toScalars limit: Int) -> String? {
        guard unicodeScalars.count > limit else { return nil }
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
