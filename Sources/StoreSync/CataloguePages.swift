import WooCommerceAPI

/// The store's catalogue, page after page in order, with up to `width` pages asked for at once: the pages after the
/// one being read are fetched meanwhile. WooCommerce takes 0.4–2 s to build a page, so waiting for one page at a
/// time leaves the store's other PHP workers idle.
///
/// Pages ahead are asked for only once the store has said how many there are (`X-WP-TotalPages`), never past the
/// last; a store that does not say is read one page at a time, following its `Link` header. Each request still
/// waits for the store's REST budget, and a 429 or 503 makes every request of the client back off
/// (``WooCommerceClient``). Used from one task; ``cancel()`` drops the pages asked for and not read.
final class CataloguePages {
    typealias Loaded = (items: [CatalogueItem], page: WooCommerceClient.Page)

    private let client: WooCommerceClient
    private let width: Int
    private var asked: [Int: Task<Loaded, any Error>] = [:]
    /// The first page not yet asked for.
    private var nextToAsk: Int
    /// The page count the store gave last.
    private var totalPages: Int?

    init(client: WooCommerceClient, from first: Int, width: Int) {
        self.client = client
        self.width = max(1, width)
        self.nextToAsk = first
    }

    deinit {
        for task in asked.values { task.cancel() }
    }

    /// Page `number`: the first, or the one after the page read last.
    func page(_ number: Int) async throws -> Loaded {
        let task = asked.removeValue(forKey: number) ?? Self.load(client, number)
        nextToAsk = max(nextToAsk, number + 1)
        // The page's own task is unstructured: pass a cancellation of the reader on to it.
        let loaded = try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
        if let pages = loaded.page.totalPages { totalPages = pages }
        // Knowing the page count, ask for the pages ahead while this one is processed.
        askAhead()
        return loaded
    }

    /// Cancels the pages asked for and not read.
    func cancel() {
        for task in asked.values { task.cancel() }
        asked.removeAll()
    }

    /// Asks for the next pages, up to `width` waiting, none past the last page.
    private func askAhead() {
        while asked.count < width, let totalPages, nextToAsk <= totalPages {
            asked[nextToAsk] = Self.load(client, nextToAsk)
            nextToAsk += 1
        }
    }

    private static func load(_ client: WooCommerceClient, _ number: Int) -> Task<Loaded, any Error> {
        Task { try await client.catalogue(page: number) }
    }
}
