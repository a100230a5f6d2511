import Foundation

/// The intake's sections of `config.json`: `http` and `webhooks`.

public struct HTTPSettings: Sendable {
    /// Address `serve` listens on; `WOOQUEUE_HTTP_HOST` / `WOOQUEUE_HTTP_PORT` override.
    public var host: String
    public var port: Int
    /// Where WooCommerce delivers webhooks.
    public var webhookPath: String
    /// Larger bodies are refused with 413.
    public var maxBodyBytes: Int
    /// The bearer token `GET /metrics` asks for; empty: none. `WOOQUEUE_METRICS_TOKEN` overrides.
    public var metricsToken: String = ""
    /// A connection with no request in progress, or whose request head is still arriving, is closed after
    /// this long.
    public var idleTimeout: Duration = .seconds(30)
    /// A request's body must arrive within this long after its head, or its connection is closed.
    public var readTimeout: Duration = .seconds(30)
    /// Connections served at once; more wait in the listen backlog.
    public var maxConnections: Int = 256
    /// Bytes of webhook bodies held before their signature is checked, across all connections; a delivery that
    /// would pass it is answered 503 (WooCommerce deliveries are a few KB, so only a flood reaches it).
    public var maxUnverifiedBytes: Int = 64 << 20

    public init(host: String, port: Int, webhookPath: String, maxBodyBytes: Int, metricsToken: String = "",
                idleTimeout: Duration = .seconds(30), readTimeout: Duration = .seconds(30), maxConnections: Int = 256,
                maxUnverifiedBytes: Int = 64 << 20) {
        self.host = host
        self.port = port
        self.webhookPath = webhookPath
        self.maxBodyBytes = maxBodyBytes
        self.metricsToken = metricsToken
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.maxConnections = maxConnections
        self.maxUnverifiedBytes = maxUnverifiedBytes
    }
}

public struct WebhookSettings: Sendable {
    /// Webhook secrets as entered in WooCommerce; `WOOQUEUE_WEBHOOK_SECRET` adds one.
    public var secrets: [String]
    /// How long a delivery id is remembered to drop repeats.
    public var deliveryRetention: Duration
    /// Where deliveries are kept while Redis is unreachable.
    public var spoolDirectory: String
    /// Past this size the spool refuses deliveries (503) rather than fill the disk.
    public var spoolMaxBytes: Int
    /// The address WooCommerce delivers to (this installation's webhook URL as the store reaches it), for
    /// `webhooks sync` and `webhooks status`; `--url` overrides. Empty: not set.
    public var deliveryURL = ""
    /// How often `serve` checks the store's webhooks (with `woocommerce.url` and `deliveryURL` set); zero: never.
    public var checkInterval: Duration = .seconds(300)
    /// Whether the check re-activates and fixes the webhooks itself (as `webhooks sync`), or only alerts.
    public var autoRepair = false
    /// How far before the last delivery received a catch-up starts, for clock skew between store and wooqueue.
    public var catchUpMargin: Duration = .seconds(300)
    /// Alert when a routed topic had no delivery for longer than this; zero: off (a quiet store is not a fault).
    public var silenceAlert: Duration = .zero

    /// Why `url` cannot be a webhook delivery URL, or `nil`: WooCommerce takes only http(s) URLs with a host.
    public static func problem(deliveryURL url: String) -> String? {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = parsed.host, !host.isEmpty else {
            // Shown only without credentials in it: a refused URL is echoed into errors and logs.
            let shown = url.contains("@") ? "a URL with credentials (not shown)" : "\"\(url)\""
            return "must be the http:// or https:// address WooCommerce delivers to, such as https://shop-hooks.example/webhooks/woocommerce; got \(shown)"
        }
        return nil
    }

    public init(secrets: [String], deliveryRetention: Duration, spoolDirectory: String, spoolMaxBytes: Int) {
        self.secrets = secrets
        self.deliveryRetention = deliveryRetention
        self.spoolDirectory = spoolDirectory
        self.spoolMaxBytes = spoolMaxBytes
    }
}
