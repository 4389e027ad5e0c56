/// The outcome of one (method, seed) run.
public struct RunResult: Sendable {
    public var method: String
    public var seed: Int
    public var records: [RoundRecord]
    /// Metric name -> (final value, mean over the last `lastRounds` evaluations).
    public var summary: [String: (final: Double, lastMean: Double)]
}
