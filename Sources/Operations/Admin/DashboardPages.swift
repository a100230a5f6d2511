import Foundation
import Mustache

/// The dashboard's templates and static files, read once from the Operations module's resources
/// (`Admin/Templates/*.mustache`, `Admin/Assets/*`). Templates escape every value by default (`{{value}}`); no page
/// uses the unescaped form, so a value from outside (a payload, an error, a key) can never become markup.
struct DashboardPages: Sendable {
    private let library: MustacheLibrary
    /// `admin.css` and `admin.js`, by file name.
    let assets: [String: String]

    /// Where SwiftPM puts the module's resources: next to the executable (or the test bundle).
    static let resourceBundleName = "wooqueue_Operations.resources"

    struct MissingFiles: Error, CustomStringConvertible {
        let looked: [String]
        var description: String {
            "the dashboard's templates are missing (looked in \(looked.joined(separator: ", "))): keep the directory \(DashboardPages.resourceBundleName) that the build puts next to the wooqueue executable beside it"
        }
    }

    init() throws {
        let candidates = [Bundle.main.bundleURL, Bundle.main.executableURL?.deletingLastPathComponent()]
            .compactMap { $0?.appendingPathComponent(Self.resourceBundleName) }
        guard let root = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("Templates").path) }) else {
            throw MissingFiles(looked: candidates.map(\.path))
        }
        var library = MustacheLibrary()
        let templates = root.appendingPathComponent("Templates")
        for name in try FileManager.default.contentsOfDirectory(atPath: templates.path) where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(name), encoding: .utf8)
            try library.register(text, named: String(name.dropLast(".mustache".count)))
        }
        self.library = library
        var assets: [String: String] = [:]
        let assetDirectory = root.appendingPathComponent("Assets")
        for name in try FileManager.default.contentsOfDirectory(atPath: assetDirectory.path) {
            assets[name] = try String(contentsOf: assetDirectory.appendingPathComponent(name), encoding: .utf8)
        }
        self.assets = assets
    }

    /// `view` rendered with the template `name`.
    func render(_ name: String, _ view: Any) -> String {
        library.render(view, withTemplate: name) ?? "template \(name) is missing"
    }
}
