import Logging
import PostgresClient

/// What `serve` and `work` warn about when they start: settings that work but expose something.
enum StartupWarnings {
    /// A database over the network without certificate verification.
    static func database(_ url: String, logger: Logger) {
        if let warning = PostgresTransport.unverifiedNetworkWarning(url) {
            logger.warning("The database connection is not verified", metadata: ["why": "\(warning)"])
        }
    }
}
