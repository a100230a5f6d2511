@testable import Dispatcher
import Foundation
import QueueCore
import TestSupport
import Testing

@Suite struct DeliverySpoolTests {
    func work(_ n: Int) -> DeliveryCommitter.Work {
        .init(claim: .init(key: "d-\(n)", token: "t-\(n)"),
              jobs: [JobEnvelope(type: "noop", queue: "low", payload: Array(#"{"n":\#(n)}"#.utf8), maxAttempts: 1, key: "k\(n)")])
    }

    func withDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wq-spool-test-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(directory)
    }

    @Test func recordsComeBackInOrderWithTheirClaims() async throws {
        try await withDirectory { directory in
            let spool = try DeliverySpool(directory: directory, maxBytes: 1 << 20)
            try await spool.append([work(1), work(2)])
            try await spool.append([work(3)])
            let records = try await spool.readAll()
            #expect(records.map { $0.jobs.first?.key } == ["k1", "k2", "k3"])
            #expect(records.map { $0.claim?.token } == ["t-1", "t-2", "t-3"])
            try await spool.truncate()
            #expect(try await spool.readAll().isEmpty)
        }
    }

    @Test func aRecordCutShortByACrashIsDroppedAndLaterAppendsStayReadable() async throws {
        try await withDirectory { directory in
            do {
                let spool = try DeliverySpool(directory: directory, maxBytes: 1 << 20)
                try await spool.append([work(1)])
            }
            // A crash in the middle of an append: a length that promises more than was written.
            let file = FileHandle(forWritingAtPath: directory + "/deliveries.spool")!
            file.seekToEndOfFile()
            file.write(Data([0, 0, 1, 0, 42, 42]))
            try file.close()
            // The first spool's lock goes with its last reference, which its I/O queue may still hold for a moment
            // (a crashed process's goes with the process).
            var opened: DeliverySpool?
            try await waitUntil("the first spool to let go of its lock", timeout: .seconds(5)) {
                opened = try? DeliverySpool(directory: directory, maxBytes: 1 << 20)
                return opened != nil
            }
            let reopened = try #require(opened)
            try await reopened.append([work(2)])
            #expect(try await reopened.readAll().map { $0.jobs.first?.key } == ["k1", "k2"])
        }
    }

    @Test func oneSpoolBelongsToOneProcess() async throws {
        try await withDirectory { directory in
            let first = try DeliverySpool(directory: directory, maxBytes: 1 << 20)
            let error = #expect(throws: SpoolError.self) { try DeliverySpool(directory: directory, maxBytes: 1 << 20) }
            #expect(error?.description.contains("another wooqueue process uses the delivery spool") == true)
            _ = first
        }
    }

    @Test func aFullSpoolRefusesMore() async throws {
        try await withDirectory { directory in
            let spool = try DeliverySpool(directory: directory, maxBytes: 300)
            try await spool.append([work(1)])
            let error = await #expect(throws: SpoolError.self) { try await spool.append([work(2), work(3)]) }
            #expect(error?.description.contains("the delivery spool is full") == true)
            #expect(try await spool.readAll().count == 1, "nothing half-written")
        }
    }
}
