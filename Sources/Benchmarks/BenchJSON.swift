import ArgumentParser
import CommandSupport
import Foundation
import Parsing
import QueueCore
import WooCommerceModel

/// `wooqueue bench json`: each place that reads JSON, timed with its reader and with Foundation's `JSONDecoder` on
/// the same bytes in the same run, so the choice of reader rests on a figure and not on a belief.
struct BenchJSON: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "Time each JSON use site's reader against JSONDecoder on the same input, in one run.",
        discussion: """
            Sites: a job envelope as a worker reads it (every job, twice); a product as the inventory maps it (every \
            product); a worker process record (every heartbeat and recovery check); a noop payload (every noop job \
            with a payload other than {}). Each is decoded --iterations times by both readers, alternating in \
            rounds; the figure is the median round's nanoseconds per decode. The scanner is kept only on the hot \
            sites (envelope, product); the others use JSONDecoder, and the figure says what that costs.
            """)

    @Option(name: .long, help: "Decodes per reader and site.")
    var iterations: Int = 50_000

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    mutating func validate() throws {
        guard iterations >= 100 else { throw ValidationError("--iterations must be ≥ 100") }
    }

    struct Site: Encodable {
        let site: String
        let bytes: Int
        let ourReaderNs: Double
        let jsonDecoderNs: Double
        /// The reader the site uses: "scanner" or "JSONDecoder".
        let inUse: String
        /// How many times faster our reader is (JSONDecoder's time / ours).
        let speedup: Double
    }

    func run() async throws {
        let product = BenchProducts.body(index: 7)
        let envelope = JobEnvelope(type: "inventory.upsert", queue: "bulk", payload: product, maxAttempts: 2, key: "BENCH-7",
                                   source: "woocommerce:product.updated:d-7").encoded()
        let record = WorkerProcessRecord(id: "host-4242-abc", host: "web1", pid: 4242, queues: ["high", "medium", "low", "bulk"],
                                         workers: [3, 2, 1, 1], startedAt: 1_800_000_000_000, heartbeatAt: 1_800_000_003_000).encoded()
        let noop = Array(#"{"sleep_ms": 2}"#.utf8)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        // Where JSONDecoder is in use, "our reader" is the generic scanner the site would otherwise use.
        let sites: [(String, [UInt8], String, () throws -> Void, () throws -> Void)] = [
            ("job envelope", envelope, "scanner", { _ = try JobEnvelope(decoding: envelope) },
             { _ = try decoder.decode(CodableEnvelope.self, from: Data(envelope)) }),
            ("product", product, "scanner", { _ = try Product(json: product) },
             { _ = try decoder.decode(CodableProduct.self, from: Data(product)) }),
            ("process record", record, "JSONDecoder", { _ = try JSONValue.parse(record) },
             { _ = try WorkerProcessRecord(decoding: record) }),
            ("noop payload", noop, "JSONDecoder", { _ = try JSONValue.parse(noop) },
             { _ = try decoder.decode(CodableNoop.self, from: Data(noop)) }),
        ]
        let progress = ProgressLines()
        var results: [Site] = []
        for (name, bytes, inUse, ours, foundation) in sites {
            progress.say("timing \(name) (\(bytes.count) bytes)…")
            let (oursNs, foundationNs) = try Self.time(iterations: iterations, ours, foundation)
            results.append(Site(site: name, bytes: bytes.count, ourReaderNs: oursNs, jsonDecoderNs: foundationNs,
                                inUse: inUse, speedup: foundationNs / oursNs))
        }
        if json {
            print(try JSONOutput.text(results))
        } else {
            print("site              bytes   our reader   JSONDecoder   ours is        in use")
            for site in results {
                print(site.site.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: " %6d   %8.0f ns   %9.0f ns   %4.1f× faster   ", site.bytes, site.ourReaderNs, site.jsonDecoderNs, site.speedup)
                    + site.inUse)
            }
        }
    }

    /// Median nanoseconds per call of each closure, over 10 alternating rounds of `iterations / 10` calls.
    static func time(iterations: Int, _ first: () throws -> Void, _ second: () throws -> Void) throws -> (Double, Double) {
        let rounds = 10, perRound = max(1, iterations / rounds)
        var firstTimes: [Double] = [], secondTimes: [Double] = []
        func nanoseconds(_ closure: () throws -> Void) throws -> Double {
            let start = ContinuousClock.now
            for _ in 0..<perRound { try closure() }
            return start.duration(to: .now).seconds * 1e9 / Double(perRound)
        }
        for _ in 0..<rounds {
            firstTimes.append(try nanoseconds(first))
            secondTimes.append(try nanoseconds(second))
        }
        return (firstTimes.sorted()[rounds / 2], secondTimes.sorted()[rounds / 2])
    }
}

// What each site needs, as Codable: the members our readers take from the same bytes.

private struct CodableEnvelope: Decodable {
    let id, type, queue: String
    let attempt, maxAttempts, recoveries: Int
    let enqueuedAt: Int64
    let key, source: String?
    let payload: AnyJSON
}

private struct CodableProduct: Decodable {
    struct Category: Decodable { let id: Int64 }
    struct Image: Decodable { let src: String }
    struct Dimensions: Decodable { let height, width: String? }
    struct Meta: Decodable { let key: String; let value: AnyJSON }
    let id: Int64
    let parentId: Int64?
    let sku, name, dateModifiedGmt, regularPrice, shortDescription: String?
    let stockQuantity: Int64?
    let categories: [Category]?
    let images: [Image]?
    let dimensions: Dimensions?
    let metaData: [Meta]?
}

private struct CodableNoop: Decodable {
    let fail: String?
    let sleepMs: Int64?
}

/// Any JSON value, for members whose shape is not fixed (a payload, a meta value).
private enum AnyJSON: Decodable {
    case null, bool(Bool), number(Double), string(String), array([AnyJSON]), object([String: AnyJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([AnyJSON].self) { self = .array(value) }
        else { self = .object(try container.decode([String: AnyJSON].self)) }
    }
}
