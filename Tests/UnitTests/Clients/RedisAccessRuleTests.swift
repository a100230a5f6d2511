import Foundation
import QueueCore
import RedisClient
import TestSupport
import Testing

/// The Redis user's rule, without a server: every command the sources send is in it, and the README gives exactly it.
@Suite struct RedisAccessRuleTests {
    /// Command names as the sources send them: `RedisCommand("NAME"` (with `"SCRIPT", "LOAD"` as `script|load`),
    /// `.send("NAME"` and `redis.call('NAME'` in the Lua scripts. Read from the files, not from the code under test.
    static func commandsInSources() throws -> Set<String> {
        let sources = TestEnvironment.repositoryRoot.appendingPathComponent("Sources")
        let patterns = [#"RedisCommand\("([A-Z]+)"(, "(LOAD|GET)")?"#, #"\.send\("([A-Z]+)""#, #"redis\.call\('([A-Z]+)'"#]
        var found: Set<String> = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(files.count > 50, "the sources were found")
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for pattern in patterns {
                let regex = try NSRegularExpression(pattern: pattern)
                for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    guard let name = Range(match.range(at: 1), in: text).map({ text[$0].lowercased() }) else { continue }
                    let sub = match.numberOfRanges > 2 ? Range(match.range(at: 3), in: text).map { text[$0].lowercased() } : nil
                    found.insert(sub.map { "\(name)|\($0)" } ?? name)
                }
            }
        }
        return found
    }

    @Test func everyCommandTheSourcesSendIsInTheRuleAndNoOther() throws {
        // AUTH needs no permission; SENTINEL and SUBSCRIBE (to +switch-master) go to the Sentinels, whose own
        // users allow them; only the benchmarks send BGREWRITEAOF, and they go on without it when it is refused.
        let sent = try Self.commandsInSources().subtracting(["auth", "sentinel", "subscribe", "bgrewriteaof"])
        let rule = Set(QueueStore.commandsUsed)
        #expect(sent.subtracting(rule).isEmpty, "sent but not in the rule: \(sent.subtracting(rule).sorted())")
        #expect(rule.subtracting(sent).isEmpty, "in the rule but never sent: \(rule.subtracting(sent).sorted())")
    }

    /// The rule leaves out BGREWRITEAOF because only the benchmarks ask for it (``QueueStore/rewriteAOF()``): no
    /// part of the service may call it.
    @Test func onlyTheBenchmarksRewriteTheAOF() throws {
        let sources = TestEnvironment.repositoryRoot.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        var callers: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            let mentions = text.components(separatedBy: "rewriteAOF(").count - 1
            let definitions = text.components(separatedBy: "func rewriteAOF(").count - 1
            if mentions > definitions { callers.append(file.path.replacingOccurrences(of: sources.path + "/", with: "")) }
        }
        #expect(!callers.isEmpty, "the benchmarks call rewriteAOF")
        #expect(callers.allSatisfy { $0.hasPrefix("Benchmarks/") }, "rewriteAOF called outside the benchmarks: \(callers)")
    }

    @Test func theREADMEGivesExactlyTheRule() throws {
        let readme = try String(contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let line = try #require(Self.readmeRuleLine(readme))
        #expect(line == "ACL SETUSER wooqueue on >PASSWORD " + QueueStore.aclRule(prefix: "wq"))
    }

    /// The `ACL SETUSER` line between the README's `redis acl rule` markers.
    static func readmeRuleLine(_ readme: String) -> String? {
        guard let start = readme.range(of: "<!-- redis acl rule: begin -->"),
              let end = readme.range(of: "<!-- redis acl rule: end -->", range: start.upperBound..<readme.endIndex) else { return nil }
        return readme[start.upperBound..<end.lowerBound].split(separator: "\n").first { $0.hasPrefix("ACL SETUSER") }.map(String.init)
    }

    @Test func infoFieldsAreReadFromTheirOwnLineOnly() {
        let info = "# Memory\r\nused_memory:1048576\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\nmaxmemory_policy_x:other\r\n"
        #expect(RedisInfo.field("maxmemory_policy", in: info) == "noeviction")
        #expect(RedisInfo.field("maxmemory", in: info) == "0")
        #expect(RedisInfo.field("maxmemory_pol", in: info) == nil)
        #expect(RedisInfo.field("Memory", in: info) == nil)
        #expect(RedisInfo.field("maxmemory_policy", in: "") == nil)
        #expect(RedisInfo.field("a", in: "a:") == "")
        #expect(RedisInfo.field("a", in: "a:b:c") == "b:c")
    }
}
