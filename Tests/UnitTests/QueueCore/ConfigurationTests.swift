import AppConfiguration
import Dispatcher
import Foundation
import Inventory
import Operations
import Parsing
import QueueCore
import TestSupport
import WooCommerceAPI
import Testing

@Suite struct ConfigurationTests {
    func decode(_ json: String, environment: [String: String] = [:]) throws -> WooqueueConfiguration {
        try WooqueueConfiguration.decode(try JSONValue.parse(Array(json.utf8)), environment: environment)
    }

    func error(_ json: String) -> String {
        do {
            _ = try decode(json)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func defaultsFollowTheMission() throws {
        let config = try decode("{}")
        #expect(config.queues.map(\.name) == ["high", "medium", "low", "bulk"])
        #expect(config.queues.map(\.workers) == [3, 2, 1, 1])
        #expect(config.queues.map(\.retries) == [5, 3, 2, 1])
        #expect(config.queues.map { $0.maxDelay } == [.seconds(30), .seconds(300), .seconds(1800), .seconds(3600)])
        #expect(config.inventory.batchSize == 500)
        #expect(config.inventory.deletion == .soft)
        #expect(config.backoff.base == .seconds(1) && config.backoff.factor == 2)
        #expect(config.workers.statusRetention == .seconds(86_400))
        #expect(config.jobTypes["noop"]?.handler == "noop" && config.jobTypes["stock_sync"]?.handler == "stock_sync")
        #expect(config.maxAttempts(type: "noop", queue: "high") == 6)
        #expect(config.alerts.deadLetterThreshold == 10 && config.alerts.pendingThreshold == 100)
        #expect(config.alerts.webhookURL.isEmpty && config.http.metricsToken.isEmpty)
        #expect(config.redis.replicationWait == nil, "no replica is waited for unless asked")
    }

    @Test func webhookManagementSettingsAreCheckedStrictly() throws {
        let config = try decode(#"{"woocommerce": {"manageKey": "ck_m", "manageSecret": "cs_m"}, "webhooks": {"deliveryURL": "https://hooks.example/webhooks/woocommerce"}}"#)
        #expect(config.woocommerce.manageKey == "ck_m" && config.webhooks.deliveryURL == "https://hooks.example/webhooks/woocommerce")
        let managing = try config.woocommerce.managing()
        #expect(managing.consumerKey == "ck_m" && managing.consumerSecret == "cs_m")
        #expect(throws: (any Error).self) { _ = try decode("{}").woocommerce.managing() }
        let fromEnvironment = try decode("{}", environment: ["WOOQUEUE_WOO_MANAGE_KEY": "ck_e", "WOOQUEUE_WOO_MANAGE_SECRET": "cs_e"])
        #expect(fromEnvironment.woocommerce.manageKey == "ck_e")
        #expect(error(#"{"woocommerce": {"manageKey": "ck_m"}}"#).contains("manageKey and manageSecret go together"))
        #expect(error(#"{"webhooks": {"deliveryURL": "hooks.example/in"}}"#).contains("webhooks.deliveryURL must be the http:// or https:// address"))
        #expect(error(#"{"webhooks": {"deliveryURL": "ftp://hooks.example/in"}}"#).contains("webhooks.deliveryURL"))
    }

    @Test func replicationWaitIsReadAndCheckedStrictly() throws {
        let wait = try decode(#"{"redis": {"waitReplicas": 1, "waitTimeout": "250ms"}}"#).redis.replicationWait
        #expect(wait == ReplicationWait(replicas: 1, timeout: .milliseconds(250)))
        #expect(try decode(#"{"redis": {"waitReplicas": 2}}"#).redis.replicationWait == ReplicationWait(replicas: 2, timeout: .seconds(1)))
        #expect(try decode(#"{"redis": {"waitReplicas": 0, "waitTimeout": "5s"}}"#).redis.replicationWait == nil)
        #expect(error(#"{"redis": {"waitReplicas": -1}}"#).contains("redis.waitReplicas must be ≥ 0"))
        #expect(error(#"{"redis": {"waitReplicas": 17}}"#).contains("redis.waitReplicas must be ≤ 16"))
        #expect(error(#"{"redis": {"waitReplicas": "1"}}"#).contains("redis.waitReplicas must be a whole number"))
        #expect(error(#"{"redis": {"waitTimeout": "2m"}}"#).contains("redis.waitTimeout must be at most 60s"))
        #expect(error(#"{"redis": {"waitTimeout": "0s"}}"#).contains("redis.waitTimeout must be at least"))
        #expect(error(#"{"redis": {"waitReplica": 1}}"#).contains("waitReplica"))
    }

    @Test func alertsAndMetricsSettings() throws {
        let config = try decode(#"{"alerts": {"webhookURL": "https://hooks.slack.com/services/T/B/X", "interval": "5m", "checkInterval": "10s"}, "http": {"metricsToken": "t"}}"#,
                                environment: ["WOOQUEUE_METRICS_TOKEN": "from-env"])
        #expect(config.alerts.webhookURL == "https://hooks.slack.com/services/T/B/X")
        #expect(config.alerts.interval == .seconds(300) && config.alerts.checkInterval == .seconds(10))
        #expect(config.http.metricsToken == "from-env")
        #expect(error(#"{"alerts": {"webhookURL": "hooks.slack.com/x"}}"#).contains("alerts.webhookURL must be an http:// or https:// URL"))
        #expect(error(#"{"alerts": {"treshold": 3}}"#).contains("treshold"))
    }

    @Test func intakeLimitsHaveSafeDefaultsAndAreChecked() throws {
        let defaults = try decode("{}").http
        #expect(defaults.idleTimeout == .seconds(30) && defaults.readTimeout == .seconds(30))
        #expect(defaults.maxConnections == 256 && defaults.maxUnverifiedBytes == 64 << 20)
        let set = try decode(#"{"http": {"idleTimeout": "5s", "readTimeout": 10, "maxConnections": 32, "maxUnverifiedBytes": 4194304}}"#).http
        #expect(set.idleTimeout == .seconds(5) && set.readTimeout == .seconds(10) && set.maxConnections == 32 && set.maxUnverifiedBytes == 4 << 20)
        #expect(error(#"{"http": {"idleTimeout": "10ms"}}"#).contains("http.idleTimeout must be at least 100ms"))
        #expect(error(#"{"http": {"maxConnections": 0}}"#).contains("http.maxConnections must be ≥ 1"))
        #expect(error(#"{"http": {"maxUnverifiedBytes": 1048576}}"#).contains("must be at least http.maxBodyBytes"))
        #expect(error(#"{"http": {"readTimeout": "forever"}}"#).contains("http.readTimeout must be a duration"))
    }

    /// A type's handler settings are kept for its kind's factory (Workers checks them), over the built-in ones.
    @Test func aTypesHandlerSettingsAreKeptForItsKind() throws {
        let config = try decode(#"{"jobTypes": {"invoice": {"queue": "low", "handler": "exec", "command": ["/bin/true"], "env": ["K"]}, "inventory.delete": {"queue": "high"}}}"#)
        #expect(config.jobTypes["invoice"]?.settings.value == .object([("command", .array([.string("/bin/true")])), ("env", .array([.string("K")]))]))
        #expect(config.jobTypes["invoice"]?.settings.path == "jobTypes.invoice")
        #expect(config.jobTypes["inventory.delete"]?.settings.value == .object([("operation", .string("delete"))]), "the built-in type's settings stay")
        #expect(config.jobTypes["inventory.delete"]?.queue == "high")
        #expect(error(#"{"jobTypes": {"mail": {"queue": "high"}}}"#).contains("jobTypes.mail.handler is missing"))
        // An old config.json's stock_sync entry is refused with the new spelling, not run as an upsert.
        #expect(error(#"{"jobTypes": {"stock_sync": {"queue": "bulk", "handler": "inventory"}}}"#).contains(#"write "handler": "stock_sync""#))
    }

    @Test func theRepositorysConfigFileIsValid() throws {
        let path = TestEnvironment.repositoryRoot.appendingPathComponent("config.json").path
        let config = try WooqueueConfiguration.load(path: path, environment: [:])
        #expect(config.queues.map(\.name) == ["high", "medium", "low", "bulk"])
        #expect(config.jobTypes["send_order_email"]?.queue == "high")
        #expect(config.maxAttempts(type: "sync_erp", queue: "medium") == 6)
        #expect(config.http.maxConnections == 256 && config.http.readTimeout == .seconds(30), "every setting is in config.json")
        #expect(config.admin.host == "127.0.0.1" && config.admin.port == 8081 && !config.admin.allowLoopbackWithoutCredentials)
    }

    @Test func badValuesNameTheField() {
        #expect(error(#"{"queues": {"high": {"workers": 0}}}"#) == "queues.high.workers must be ≥ 1, got 0")
        #expect(error(#"{"queues": {"high": {"wokers": 2}}}"#).hasPrefix("queues.high.wokers is not a known setting"))
        #expect(error(#"{"queues": {"high": {"maxDelay": "soon"}}}"#).contains("queues.high.maxDelay must be a duration"))
        #expect(error(#"{"backoff": {"factor": "two"}}"#) == "backoff.factor must be a number, got a string")
        #expect(error(#"{"jobTypes": {"mail": {"queue": "urgent", "handler": "noop"}}}"#).contains("jobTypes.mail.queue must be one of the configured queues"))
        #expect(error(#"{"workers": {"heartbeatInterval": "10s", "processTimeout": "15s"}}"#).contains("must be more than twice"))
        #expect(error(#"{"queues": {"High Prio": {}}}"#).contains("queue name must be"))
    }

    @Test func detailOptionsDefaultToEverythingAndAcceptOnlyTheirWords() throws {
        let defaults = try decode("{}")
        #expect(defaults.workers.events == .all && defaults.workers.jobStatus == .all)
        let lean = try decode(#"{"workers": {"events": "failures", "jobStatus": "outcomes"}}"#)
        #expect(lean.workers.events == .failures && lean.workers.jobStatus == .outcomes)
        #expect(error(#"{"workers": {"events": "none"}}"#) == #"workers.events must be one of all, failures, got "none""#)
        #expect(error(#"{"workers": {"jobStatus": "final"}}"#) == #"workers.jobStatus must be one of all, outcomes, got "final""#)
        #expect(error(#"{"workers": {"events": false}}"#) == "workers.events must be a string, got a boolean")
        #expect(error(#"{"woocommerce": {"authentication": "basic-ish"}}"#).contains("woocommerce.authentication must be one of auto,"))
    }

    @Test func durationsAcceptUnitsAndSeconds() throws {
        let config = try decode(#"{"backoff": {"base": "250ms", "cap": 90}, "queues": {"q": {"maxDelay": "1.5h"}}}"#)
        #expect(config.backoff.base == .milliseconds(250))
        #expect(config.backoff.cap == .seconds(90))
        #expect(config.queues.map(\.maxDelay) == [.seconds(5400)])
        #expect(DurationText.parse("60s") == .seconds(60) && DurationText.parse("2d") == .seconds(172_800))
        #expect(DurationText.parse("-1s") == nil && DurationText.parse("x") == nil)
    }

    /// The admin listener: loopback and fail-closed by default, a port of its own, overrides from the environment.
    @Test func theAdminListenerHasSafeDefaultsAndAPortOfItsOwn() throws {
        let defaults = try decode("{}").admin
        #expect(defaults.host == "127.0.0.1" && defaults.port == 8081 && !defaults.allowLoopbackWithoutCredentials && !defaults.hasCredentials)
        #expect(defaults.listensOnLoopback)
        let set = try decode(#"{"admin": {"host": "0.0.0.0", "port": 9100, "allowLoopbackWithoutCredentials": true}}"#).admin
        #expect(set.host == "0.0.0.0" && set.port == 9100 && set.allowLoopbackWithoutCredentials && !set.listensOnLoopback)
        #expect(error(#"{"http": {"port": 9000}, "admin": {"port": 9000}}"#).contains("admin.port and http.port are both 9000"))
        #expect(error(#"{"admin": {"allowLoopbackWithoutCredentials": "yes"}}"#).contains("admin.allowLoopbackWithoutCredentials"))
        #expect(error(#"{"admin": {"bind": "x"}}"#).contains("admin.bind"))
        let env = try decode("{}", environment: ["WOOQUEUE_ADMIN_HOST": "::1", "WOOQUEUE_ADMIN_PORT": "9200"]).admin
        #expect(env.host == "::1" && env.port == 9200 && env.listensOnLoopback)
        #expect((try? decode("{}", environment: ["WOOQUEUE_ADMIN_PORT": "http"])) == nil)
        for host in ["localhost", "127.0.0.1", "127.255.0.9", "::1", "[::1]"] {
            #expect(WooqueueConfiguration.AdminSettings.isLoopback(host: host), "\(host)")
        }
        for host in ["0.0.0.0", "127.0.0.1.nip.io", "128.0.0.1", "127.0.0", "127.0.0.256", "::", "localhost.example", ""] {
            #expect(!WooqueueConfiguration.AdminSettings.isLoopback(host: host), "\(host)")
        }
    }

    @Test func environmentOverridesAddresses() throws {
        let config = try decode(#"{"redis": {"url": "redis://file:1/0"}}"#, environment: [
            "WOOQUEUE_REDIS_URL": "redis://env:2/0", "WOOQUEUE_DATABASE_URL": "postgresql://env/db",
        ])
        #expect(config.redis.url == "redis://env:2/0")
        #expect(config.database.url == "postgresql://env/db")
    }

    @Test func unreadableFilesAreClearErrors() throws {
        let missing = #expect(throws: ConfigurationError.self) { try WooqueueConfiguration.load(path: "/nonexistent/config.json", environment: [:]) }
        #expect(missing?.description.contains("/nonexistent/config.json") == true)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wq-bad-\(UUID()).json").path
        try Data("{\"queues\": ".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let invalid = #expect(throws: ConfigurationError.self) { try WooqueueConfiguration.load(path: path, environment: [:]) }
        #expect(invalid?.description.contains("is not valid JSON") == true)
    }
}
