public import Foundation

/// The WooCommerce-shaped payloads in `Tests/Fixtures/woocommerce`.
public enum Fixtures {
    public static var directory: URL { TestEnvironment.repositoryRoot.appendingPathComponent("Tests/Fixtures/woocommerce") }

    public static func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
    }

    public static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }
}
