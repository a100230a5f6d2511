import Foundation
import TestSupport
import Testing

/// The dashboard's HTML lives in its templates (`Sources/Operations/Admin/Templates`), which escape every value by
/// default; no Swift source of Operations builds markup in a string.
@Suite struct DashboardSourceTests {
    @Test func operationsSwiftSourcesHoldNoHTMLTags() throws {
        let root = TestEnvironment.repositoryRoot.appendingPathComponent("Sources/Operations")
        let tag = /<\/?(a|b|p|div|section|table|thead|tbody|tr|td|th|input|form|button|script|style|span|h[1-6]|ul|li|pre|code|select|option|html|head|body|main|header|link|meta|title)[\s>\/]/
        var found: [String] = []
        let files = FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        #expect(!files.isEmpty)
        for file in files {
            let lines = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() where line.firstMatch(of: tag) != nil {
                found.append("\(file):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        #expect(found.isEmpty, "markup in Swift sources:\n\(found.joined(separator: "\n"))")
    }
}
