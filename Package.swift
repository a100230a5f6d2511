// swift-tools-version:6.0
// Linux only (Glibc, /proc, posix_spawn's GNU extensions, libpq and hiredis from Debian): no Apple platform is claimed.
import PackageDescription

let package = Package(
    name: "wooqueue",
    products: [
        .executable(name: "wooqueue", targets: ["wooqueue"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // MARK: - C libraries
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // TLS to Redis, under hiredis 0.14 which has none (Debian 12's OpenSSL 3).
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "CSystemShims"),

        // MARK: - Untrusted input (a leaf: nothing of ours, no NIO; cheap to fuzz)
        .target(name: "Parsing"),

        // MARK: - Clients
        .target(name: "ClientSupport", dependencies: ["CSystemShims"]),
        .target(name: "RedisClient", dependencies: ["CHiredis", "COpenSSL", "ClientSupport", "Parsing"]),
        .target(name: "PostgresClient", dependencies: ["CLibPQ", "ClientSupport"]),

        // MARK: - Service
        .target(name: "QueueCore", dependencies: [
            "Parsing", "RedisClient",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "WooCommerceModel", dependencies: ["Parsing"]),
        .target(name: "Routing", dependencies: ["QueueCore", "Parsing", "WooCommerceModel"]),
        .target(name: "Workers", dependencies: [
            "QueueCore", "Parsing", "ClientSupport",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .target(name: "HTTPServer", dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Dispatcher", dependencies: [
            "QueueCore", "Parsing", "Routing", "ClientSupport", "HTTPServer",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "StoreSync", dependencies: [
            "QueueCore", "Parsing", "Routing", "WooCommerceModel", "WooCommerceAPI", "Inventory",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "WooCommerceAPI", dependencies: [
            "Parsing",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Inventory", dependencies: [
            "QueueCore", "Parsing", "WooCommerceModel", "PostgresClient", "Workers",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Operations", dependencies: [
            "QueueCore", "Parsing", "Routing", "HTTPServer",
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], resources: [.copy("Admin/Templates"), .copy("Admin/Assets")]),
        .target(name: "AppConfiguration", dependencies: [
            "QueueCore", "Parsing", "Dispatcher", "Routing", "Inventory", "WooCommerceAPI", "Operations", "Workers",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "CommandSupport", dependencies: [
            "AppConfiguration", "QueueCore", "Workers", "Inventory", "WooCommerceAPI", "StoreSync", "RedisClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Benchmarks", dependencies: [
            "AppConfiguration", "CommandSupport", "QueueCore", "Parsing", "Workers", "Dispatcher", "HTTPServer", "Inventory",
            "PostgresClient", "WooCommerceModel", "Routing", "WooCommerceAPI", "StoreSync",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "wooqueue", dependencies: [
            "QueueCore", "Parsing", "Routing", "WooCommerceModel", "Workers", "Dispatcher", "Inventory", "Operations", "WooCommerceAPI",
            "StoreSync", "HTTPServer", "RedisClient", "PostgresClient", "ClientSupport", "CommandSupport", "Benchmarks", "AppConfiguration",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // MARK: - Tests
        .target(name: "TestSupport", dependencies: [
            "AppConfiguration", "Parsing", "RedisClient", "QueueCore", "Workers", "Dispatcher", "HTTPServer",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/TestSupport"),
        // The unit tier: no server needed (`make unit`).
        .testTarget(name: "ParsingTests", dependencies: ["Parsing"]),
        .testTarget(name: "UnitTests", dependencies: [
            "AppConfiguration", "Parsing", "QueueCore", "Routing", "Dispatcher", "Inventory", "Workers", "Operations", "PostgresClient", "RedisClient",
            "WooCommerceModel", "WooCommerceAPI", "StoreSync", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The integration tier: real Redis, PostgreSQL and peers.
        .testTarget(name: "RedisClientTests", dependencies: ["AppConfiguration", "RedisClient", "TestSupport"]),
        .testTarget(name: "PostgresClientTests", dependencies: ["AppConfiguration", "PostgresClient", "TestSupport"]),
        .testTarget(name: "QueueCoreTests", dependencies: ["AppConfiguration", "QueueCore", "Parsing", "TestSupport"]),
        .testTarget(name: "OperationsTests", dependencies: [
            "AppConfiguration", "Operations", "HTTPServer", "Routing", "QueueCore", "Parsing", "Workers", "TestSupport",
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "WorkersTests", dependencies: [
            "AppConfiguration", "Workers", "QueueCore", "RedisClient", "PostgresClient", "TestSupport",
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "DispatcherTests", dependencies: [
            "AppConfiguration", "Dispatcher", "HTTPServer", "Routing", "Parsing", "QueueCore", "TestSupport",
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "InventoryTests", dependencies: [
            "AppConfiguration", "Inventory", "StoreSync", "Routing", "WooCommerceModel", "Parsing", "WooCommerceAPI", "Workers", "QueueCore", "PostgresClient",
            "RedisClient", "Dispatcher", "Operations", "HTTPServer", "TestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "WooqueueCLITests", dependencies: ["AppConfiguration", "QueueCore", "Parsing", "PostgresClient", "TestSupport"]),
        .testTarget(name: "AppTests", dependencies: [
            "AppConfiguration", "wooqueue", "Dispatcher", "Operations", "QueueCore", "TestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)

// MARK: - Fuzzing
// libFuzzer targets (Fuzz/<name>/<name>.swift), one per parser of untrusted input. Only `make fuzz` builds them: it
// sets WOOQUEUE_FUZZ=1 and builds in .build-fuzz with -sanitize=fuzzer,address, which a normal build must not have.
if Context.environment["WOOQUEUE_FUZZ"] == "1" {
    package.targets += [
        .target(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], path: "Fuzz/FuzzSupport"),
    ]
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzJSON", ["Parsing"]),
        ("FuzzJSONDifferential", ["Parsing"]),
        ("FuzzForm", ["Parsing"]),
        ("FuzzSentinelURL", ["Parsing"]),
        ("FuzzRetryAfter", ["Parsing"]),
        ("FuzzHTMLText", ["Parsing"]),
        ("FuzzWordPressEntities", ["Parsing"]),
        ("FuzzSpoolRecord", ["Parsing"]),
        ("FuzzDeliveryRouter", ["Routing", "QueueCore", "Parsing"]),
        ("FuzzProduct", ["WooCommerceModel", "Parsing"]),
    ]
    for target in fuzzTargets {
        package.targets.append(.executableTarget(name: target.name, dependencies: target.dependencies + ["FuzzSupport"],
                                                 path: "Fuzz/\(target.name)"))
    }
}

for target in package.targets where target.type != .system && target.name != "CSystemShims" {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .enableUpcomingFeature("ExistentialAny"),
        // A member is visible only where its own module is imported: every file says what it uses.
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ]
}

