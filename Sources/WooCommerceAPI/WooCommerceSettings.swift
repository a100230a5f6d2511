/// The store's REST API: `config.json`'s `woocommerce` section.

public struct WooCommerceSettings: Sendable {
    public enum Authentication: String, Sendable, CaseIterable {
        /// HTTP Basic over https, OAuth 1.0a over plain http.
        case auto
        /// HTTP Basic with the consumer key and secret (https only).
        case basic
        /// `consumer_key` / `consumer_secret` query parameters (https only; for servers that drop the
        /// Authorization header).
        case query
        /// OAuth 1.0a one-legged, HMAC-SHA256 (plain http).
        case oauth
    }
    /// The store's address, e.g. `https://shop.example.com`; `WOOQUEUE_WOO_URL` overrides. Empty: no REST calls.
    public var url: String
    /// REST API keys; `WOOQUEUE_WOO_KEY` / `WOOQUEUE_WOO_SECRET` override.
    public var consumerKey: String
    public var consumerSecret: String
    public var authentication: Authentication
    /// Products per page (WooCommerce allows at most 100).
    public var perPage: Int
    /// One request's time limit.
    public var timeout: Duration
    /// How often `serve` sweeps for products modified since the last sweep; zero turns it off.
    public var reconcileInterval: Duration
    /// PEM file of the certificate authorities an https store's certificate must chain to, instead of the
    /// system's (a store with a private CA); empty: the system's. `SSL_CERT_FILE` applies when it is not set.
    public var caFile = ""
    /// How often `serve` looks for inv_items rows whose product the store no longer has (`reconcile
    /// --deletions`); zero: never.
    public var deletionSweepInterval: Duration = .zero
    /// The store's REST budget, shared by every process and command that calls it (stock_sync, bootstrap,
    /// reconcile, the webhook check): at most this many requests at once (0: no limit) …
    public var maxConcurrentRequests = 4
    /// … and at most this many started per second (0: no limit).
    public var maxRequestsPerSecond = 0
    /// Pages of products that `bootstrap` (and the deletion sweep) ask for at once, within the budget above.
    public var pagesInFlight = 2
    /// REST keys with Read/Write access, of a user who can manage WooCommerce: only `webhooks sync` and the
    /// watchdog's repair use them, so the everyday keys above can stay read-only. `WOOQUEUE_WOO_MANAGE_KEY` /
    /// `WOOQUEUE_WOO_MANAGE_SECRET` override.
    public var manageKey = ""
    public var manageSecret = ""

    /// These settings with the managing keys in place of the everyday ones, for changing the store's webhooks.
    public func managing() throws -> WooCommerceSettings {
        guard !manageKey.isEmpty, !manageSecret.isEmpty else { throw WooCommerceError.missingManageKeys }
        var settings = self
        settings.consumerKey = manageKey
        settings.consumerSecret = manageSecret
        return settings
    }

    public init(url: String, consumerKey: String, consumerSecret: String, authentication: Authentication, perPage: Int,
                timeout: Duration, reconcileInterval: Duration) {
        self.url = url
        self.consumerKey = consumerKey
        self.consumerSecret = consumerSecret
        self.authentication = authentication
        self.perPage = perPage
        self.timeout = timeout
        self.reconcileInterval = reconcileInterval
    }
}
