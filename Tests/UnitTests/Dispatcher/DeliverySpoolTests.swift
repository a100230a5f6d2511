@testable import Dispatcher
import Foundation
import Logging
import Parsing
import QueueCore
import TestSupport
import Testing

@Suite struct DeliverySpoolTests {
    let logger = Logger(label: "test.spool")

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
            let spool = try DeliverySpool(directory: directory, maxBytes: 1 << 20, logger: logger)
            try await spool.append([work(1), work(2)])
            try await spool.append([work(3)])
            let records = try await spool.readAll().records
            #expect(records.map { $0.jobs.first?.key } == ["k1", "k2", "k3"])
            #expect(records.map { $0.claim?.token } == ["t-1", "t-2", "t-3"])
            try await spool.truncate()
            #expect(try await spool.readAll().records.isEmpty)
        }
    }

    @Test func aRecordCutShortByACrashIsSetAsideAndLaterAppendsStayReadable() async throws {
        try await withDirectory { directory in
            do {
                let spool = try DeliverySpool(directory: directory, maxBytes: 1 << 20, logger: logger)
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
                opened = try? DeliverySpool(directory: directory, maxBytes: 1 << 20, logger: logger)
                return opened != nil
            }
            let reopened = try #require(opened)
            try await reopened.append([work(2)])
            #expect(try await reopened.readAll().records.map { $0.jobs.first?.key } == ["k1", "k2"])
            let quarantined = try Data(contentsOf: URL(fileURLWithPath: reopened.quarantinePath))
            #expect(Array(quarantined) == [0, 0, 1, 0, 42, 42], "the unfinished bytes are kept aside, not thrown away")
            #expect(await reopened.quarantinedBytes() == 6)
        }
    }

    @Test func oneSpoolBelongsToOneProcess() async throws {
        try await withDirectory { directory in
            let first = try DeliverySpool(directory: directory, maxBytes: 1 << 20, logger: logger)
            let error = #expect(throws: SpoolError.self) { try DeliverySpool(directory: directory, maxBytes: 1 << 20, logger: logger) }
            #expect(error?.description.contains("another wooqueue process uses the delivery spool") == true)
            _ = first
        }
    }

    @Test func aFullSpoolRefusesMore() async throws {
        try await withDirectory { directory in
            let spool = try DeliverySpool(directory: directory, maxBytes: 300, logger: logger)
            try await spool.append([work(1)])
            let error = await #expect(throws: SpoolError.self) { try await spool.append([work(2), work(3)]) }
            #expect(error?.description.contains("the delivery spool is full") == true)
            #expect(try await spool.readAll().records.count == 1, "nothing half-written")
        }
    }

    /// A record that cannot be read back no longer holds up the records behind it: it is reported for the
    /// quarantine, with the reason, and the others come back in order.
    @Test func anUnreadableRecordIsSetApartFromTheOthers() async throws {
        try await withDirectory { directory in
            let spool = try DeliverySpool(directory: directory, maxBytes: 1 << 20, logger: logger)
            try await spool.append([work(1)])
            var damaged: [UInt8] = []
            SpoolRecord(claimKey: Array("k".utf8), claimToken: Array("t".utf8), jobs: [Array(#"{"id":"x","type":"noop","queue":"low","payload":{"s":"\ud800"#.utf8)],
                        deadLetter: nil).encode(into: &damaged)
            let file = try #require(FileHandle(forWritingAtPath: spool.path))
            file.seekToEndOfFile()
            file.write(Data(damaged))
            try file.close()
            try await spool.append([work(3)])
            let contents = try await spool.readAll()
            #expect(contents.records.map { $0.jobs.first?.key } == ["k1", "k3"])
            #expect(contents.unreadable.map(\.frame) == [damaged])
            #expect(contents.unreadable.first?.reason.contains("not valid JSON") == true, "\(contents.unreadable)")
            try await spool.quarantine(contents.unreadable)
            #expect(await spool.quarantinedBytes() == damaged.count)
        }
    }
}
