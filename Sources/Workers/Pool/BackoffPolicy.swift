import Foundation
public import QueueCore

/// Exponential backoff with jitter: base × factor^(n-1), capped, spread by ±jitter.
public struct BackoffPolicy: Sendable {
    public let settings: QueueConfiguration.BackoffSettings

    public init(_ settings: QueueConfiguration.BackoffSettings) {
        self.settings = settings
    }

    /// The delay before the retry that follows failure number `failures` (1 for the first failure).
    public func delay(afterFailure failures: Int, random: Double = Double.random(in: -1...1)) -> Duration {
        let exponent = Double(max(failures, 1) - 1)
        let nominal = min(Double(settings.base.milliseconds) * pow(settings.factor, exponent), Double(settings.cap.milliseconds))
        let spread = nominal * settings.jitter * random
        return .milliseconds(Int64(exactly: max(0, nominal + spread).rounded()) ?? settings.cap.milliseconds)
    }
}
