import ArgumentParser
import Foundation
import Parsing

/// `wooqueue bench html-text`: the cost of turning a product's HTML description into text, on the input that
/// was quadratic: many `<` and no `>`.
struct BenchHTMLText: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "html-text",
        abstract: "Time HTML-to-text on a description of --angles '<' characters and no '>'.",
        discussion: """
            The figure that does not depend on the machine is an instruction count: scripts/bench/html-text-linear runs \
            this under valgrind's callgrind for n and 4n, counting only HTMLText.plain, and checks that the ratio \
            stays under 5 (linear: 4; quadratic: 16).
            """)

    @Option(name: .long, help: "How many '<' the description holds.")
    var angles: Int = 200_000

    mutating func validate() throws {
        guard (1...100_000_000).contains(angles) else { throw ValidationError("--angles must be from 1 to 100000000") }
    }

    func run() async throws {
        let html = String(repeating: "<", count: angles) + " text"
        let started = ContinuousClock.now
        let text = HTMLText.plain(html)
        let took = ContinuousClock.now - started
        print("html-text: \(angles) '<' → \(text.utf8.count) bytes of text in \(took)")
    }
}
