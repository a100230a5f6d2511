/// A process metric wooqueue reports through swift-metrics: the label it is created with (its Prometheus name)
/// and what it means, which the exporter prints as its `# HELP` line (swift-metrics itself carries no help text).
public struct ProcessMetric: Sendable, Hashable {
    public let name: String
    public let help: String

    /// Jobs whose outcome a worker wrote, by `queue`, `type` and `outcome`.
    public static let jobs = ProcessMetric(
        name: "wooqueue_jobs_total",
        help: "Jobs whose outcome this process wrote: done, retried, dead, postponed (dependency outage), requeued (shutdown); and jobs it recovered from dead processes (recovered).")
    /// Handler time per job, by `queue` and `type`.
    public static let jobDuration = ProcessMetric(
        name: "wooqueue_job_duration_seconds", help: "Time the handler took per job (a batch's time shared among its jobs).")
    /// From a job's due time to its start, by `queue`.
    public static let pickupLatency = ProcessMetric(
        name: "wooqueue_job_pickup_latency_seconds", help: "From the time a job was due to the time a worker started it.")

    /// The worker pools' metrics. Other modules define theirs next to their code (the intake's, the bulk
    /// writer's); the composition root hands the exporter every list.
    public static let workers: [ProcessMetric] = [jobs, jobDuration, pickupLatency]

    public init(name: String, help: String) {
        self.name = name
        self.help = help
    }
}
