import AppConfiguration
public import ArgumentParser
import CommandSupport
import Foundation
import QueueCore
import Synchronization
import Workers

/// `wooqueue bench`: the benchmarks, on throw-away keys.
public struct Bench: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        abstract: "Benchmarks: the worker pool (default), the webhook intake, the inventory bulk path, bootstrap's paging, HTML-to-text and the JSON readers.",
        subcommands: [BenchWorkers.self, BenchIngest.self, BenchInventory.self, BenchBootstrap.self, BenchHTMLText.self, BenchJSON.self], defaultSubcommand: BenchWorkers.self)
}

/// `wooqueue bench [workers]`: throughput and pickup latency of the reliable path.
struct BenchWorkers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Measure enqueue and processing rates, pickup latency and peak memory with noop jobs.",
        discussion: """
            1. Enqueues --jobs noop jobs spread over all queues (pipelined batches) and times it.
            2. Lets Redis rewrite the AOF the enqueue grew (BGREWRITEAOF, waited for), so no automatic rewrite falls \
            within the timing; then starts this configuration's worker pools in-process and times draining them through \
            the full reliable path (fetch into the active list, run, settle with status, counters and events).
            3. With the pools idle, enqueues --probes jobs one at a time and measures the pickup latency: from the \
            enqueue call to the handler's start.
            Keys live under a prefix of their own (wqbench-<pid>) and are deleted afterwards.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Jobs for the throughput phases.")
    var jobs: Int = 200_000

    @Option(name: .long, help: "Jobs for the latency probe.")
    var probes: Int = 1000

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Give the noop type this concurrency limit (set it above the workers, so it never binds): what flow control costs per job.", valueName: "calls"))
    var concurrencyLimit: Int?

    mutating func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be ≥ 1") }
        if let concurrencyLimit, concurrencyLimit < 1 { throw ValidationError("--concurrency-limit must be ≥ 1") }
        guard probes >= 1 else { throw ValidationError("--probes must be ≥ 1") }
    }

    func run() async throws {
        var configuration = try global.load()
        configuration.redis.keyPrefix = "wqbench-\(getpid())"
        if let concurrencyLimit { configuration.jobTypes["noop"]?.flow.concurrency = concurrencyLimit }
        let store = try configuration.makeStore(label: "bench")
        try await store.checkServer(allowEviction: configuration.redis.allowEviction)
        do {
            try await measure(configuration, store: store)
        } catch {
            _ = try? await store.deleteAllKeys()
            throw error
        }
    }

    private func measure(_ configuration: WooqueueConfiguration, store: QueueStore) async throws {
        let queues = configuration.queues.map(\.name)
        let progress = ProgressLines()

        // 1. Enqueue.
        progress.say("enqueueing \(jobs) noop jobs over \(queues.joined(separator: ", "))…")
        let enqueueStart = ContinuousClock.now
        var enqueued = 0
        while enqueued < jobs {
            let n = min(20_000, jobs - enqueued)
            let now = WallClock.nowMillis()
            try await store.enqueue((0..<n).map { index in
                JobEnvelope(type: "noop", queue: queues[(enqueued + index) % queues.count], maxAttempts: 1, enqueuedAt: now, source: "bench")
            }, now: now)
            enqueued += n
        }
        let enqueueTime = enqueueStart.duration(to: .now)

        // 2. Process.
        try await store.settlePersistence(progress: progress)
        progress.say("processing with \(configuration.queues.map { "\($0.name)×\($0.workers)" }.joined(separator: " ")) workers…")
        let observer = BenchObserver()
        let process = try WorkerProcess(configuration: configuration, registry: try configuration.makeRegistry(logger: global.logger("bench")),
                                        observer: observer, logger: global.logger("bench"))
        let cpuBefore = try await CPUTimes.read(redis: store)
        let processStart = ContinuousClock.now
        let running = Task { try await process.run() }
        try await observer.waitForSettled(jobs, timeout: .seconds(600), progress: progress)
        let processTime = processStart.duration(to: .now)
        let cpuAfter = try await CPUTimes.read(redis: store)

        // 3. Pickup latency with idle pools.
        progress.say("probing pickup latency with \(probes) jobs enqueued one at a time…")
        let probeStore = try configuration.makeStore(label: "probe")
        for index in 0..<probes {
            let job = JobEnvelope(type: "noop", queue: queues[index % queues.count], maxAttempts: 1, source: "bench-probe")
            observer.markSent(job.id)
            try await probeStore.enqueue([job])
            try await Task.sleep(for: .milliseconds(2))
        }
        try await observer.waitForSettled(jobs + probes, timeout: .seconds(60), progress: progress)
        process.requestStop()
        try await running.value
        try await store.deleteAllKeys()

        let latencies = observer.probeLatencies().sorted()
        let result = BenchResult(
            jobs: jobs,
            enqueueJobsPerS: Double(jobs) / enqueueTime.seconds,
            processJobsPerS: Double(jobs) / processTime.seconds,
            pickupP50Ms: Self.percentile(latencies, 0.50),
            pickupP99Ms: Self.percentile(latencies, 0.99),
            peakRssMb: Self.peakRSSMegabytes(),
            wooqueueCpuUsPerJob: (cpuAfter.process - cpuBefore.process) * 1e6 / Double(jobs),
            redisCpuUsPerJob: (cpuAfter.redis - cpuBefore.redis) * 1e6 / Double(jobs))
        if json {
            print(try JSONOutput.text(result))
        } else {
            print(String(format: """
                jobs:              %d
                enqueue:           %.0f jobs/s
                process:           %.0f jobs/s (reliable path, %d workers)
                CPU per job:       wooqueue %.1f µs, Redis %.1f µs (while processing)
                pickup latency:    p50 %.2f ms, p99 %.2f ms (%d probes)
                peak RSS:          %.1f MB
                """, jobs, result.enqueueJobsPerS, result.processJobsPerS, configuration.queues.reduce(0) { $0 + $1.workers },
                result.wooqueueCpuUsPerJob, result.redisCpuUsPerJob,
                result.pickupP50Ms, result.pickupP99Ms, latencies.count, result.peakRssMb))
        }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    /// The process's peak resident set (`VmHWM`), in MB.
    static func peakRSSMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kilobytes / 1024
    }
}

struct BenchResult: Encodable {
    let jobs: Int
    let enqueueJobsPerS: Double
    let processJobsPerS: Double
    let pickupP50Ms: Double
    let pickupP99Ms: Double
    let peakRssMb: Double
    let wooqueueCpuUsPerJob: Double
    let redisCpuUsPerJob: Double
}

/// CPU time used so far, in seconds, by this process (`getrusage`) and by the Redis server (`INFO cpu`: its main
/// and background threads, all clients), so a run can say what each job costs on each side.
struct CPUTimes {
    var process: Double
    var redis: Double

    static func read(redis store: QueueStore) async throws -> CPUTimes {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let process = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return CPUTimes(process: process, redis: try await store.serverCPUSeconds())
    }
}

/// Counts settled jobs and times the probe jobs from enqueue to start.
final class BenchObserver: JobObserver {
    private let settled = Atomic<Int>(0)
    private let sent = Mutex<[String: ContinuousClock.Instant]>([:])
    private let latencies = Mutex<[Double]>([])

    func markSent(_ id: String) {
        sent.withLock { $0[id] = .now }
    }

    func jobStarted(_ envelope: JobEnvelope, pickupLatency: Duration) {
        guard envelope.source == "bench-probe" else { return }
        let now = ContinuousClock.now
        guard let start = sent.withLock({ $0.removeValue(forKey: envelope.id) }) else { return }
        latencies.withLock { $0.append(start.duration(to: now).seconds * 1000) }
    }

    func jobSettled(queue: String, type: String, outcome: Settlement.Kind, duration: Duration) {
        settled.add(1, ordering: .relaxed)
    }

    func probeLatencies() -> [Double] { latencies.withLock { $0 } }

    func waitForSettled(_ count: Int, timeout: Duration, progress: ProgressLines) async throws {
        let deadline = ContinuousClock.now + timeout
        var lastReport = ContinuousClock.now
        while settled.load(ordering: .relaxed) < count {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("benchmark stalled: \(settled.load(ordering: .relaxed)) of \(count) jobs settled after \(timeout)")
            }
            if lastReport.duration(to: .now) > .seconds(2) {
                progress.say("  \(settled.load(ordering: .relaxed))/\(count) settled")
                lastReport = .now
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}


extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
