import AppConfiguration
import Foundation
import Logging
import Parsing
import QueueCore
import TestSupport
import Testing
@testable import Workers

/// The open registry of handler kinds, without any server: each kind reads and checks its own settings, and
/// every error names the field.
@Suite struct HandlerKindsTests {
    func registry(_ jobTypes: String, kinds: HandlerKinds = .builtIn) throws -> HandlerRegistry {
        let configuration = try WooqueueConfiguration.decode(try JSONValue.parse(Array(#"{"jobTypes": \#(jobTypes)}"#.utf8)), environment: [:])
        // The built-in inventory types need the Inventory module's kinds; these tests leave them out.
        return try kinds.registry(for: configuration.jobTypes.filter { !["inventory", "stock_sync"].contains($0.value.handler) })
    }

    func error(_ jobTypes: String, kinds: HandlerKinds = .builtIn) -> String {
        do {
            _ = try registry(jobTypes, kinds: kinds)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func theBuiltInKindsCheckTheirSettings() throws {
        let built = try registry(#"{"mail": {"queue": "high", "handler": "http", "url": "https://mail.example/send", "headers": {"X-Key": "k"}}, "pdf": {"queue": "low", "handler": "exec", "command": ["/bin/true"], "env": ["INVOICE_API_KEY"]}}"#)
        #expect(built.entry(for: "mail")?.handler is HTTPHandler)
        #expect((built.entry(for: "pdf")?.handler as? ExecHandler)?.passing == ["INVOICE_API_KEY"])
        #expect(error(#"{"mail": {"queue": "high", "handler": "http"}}"#).contains("jobTypes.mail.url must be an http:// or https:// URL"))
        #expect(error(#"{"pdf": {"queue": "high", "handler": "exec", "command": []}}"#).contains("jobTypes.pdf.command must be a non-empty array"))
        #expect(error(#"{"pdf": {"queue": "low", "handler": "exec", "command": ["/bin/true"], "env": ["BAD NAME"]}}"#)
            .contains(#"jobTypes.pdf.env must list environment variable names such as "INVOICE_API_KEY", got "BAD NAME""#))
        #expect(error(#"{"mail": {"queue": "low", "handler": "noop", "env": ["X"]}}"#).hasPrefix("jobTypes.mail.env is not a known setting"),
                "a setting the kind does not read is named in full")
        #expect(error(#"{"mail": {"queue": "low", "handler": "htp"}}"#).contains(#"jobTypes.mail.handler must be one of exec, http, noop, got "htp""#))
    }

    @Test func aKindIsRegisteredOnceAndMakesItsTypesHandlers() throws {
        var kinds = HandlerKinds.builtIn
        try kinds.register("shout", settings: ["word"]) { spec in ClosureHandler { _ in _ = try spec.settings.child("word").string(default: "hey") } }
        #expect(throws: HandlerKindError.self) { try kinds.register("shout") { _ in NoopHandler() } }
        #expect(throws: HandlerKindError.self) { try kinds.register("http") { _ in NoopHandler() } }
        #expect(try registry(#"{"loud": {"queue": "low", "handler": "shout", "word": "HEY"}}"#, kinds: kinds).entry(for: "loud") != nil)
    }

    /// An exec handler made in code with no command fails its job; it never traps the worker.
    @Test func anEmptyExecCommandFailsItsJobInsteadOfTrapping() async {
        let failure = await #expect(throws: JobFailure.self) {
            try await ExecHandler(command: []).handle(JobContext(envelope: JobEnvelope(type: "t", queue: "q", maxAttempts: 1), logger: .init(label: "t")))
        }
        #expect(failure?.kind == .permanent && failure?.description.contains("the command is empty") == true)
    }
}
