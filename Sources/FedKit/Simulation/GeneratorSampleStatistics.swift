import Torch

/// Count, mean, standard deviation and largest magnitude of a set of values, accumulated in
/// Double in a fixed order (Welford), so the figures do not depend on thread counts.
public struct ValueStatistics: Sendable, Equatable {
    public private(set) var count = 0
    public private(set) var mean = 0.0
    private var m2 = 0.0
    public private(set) var maxAbs = 0.0

    public init() {}

    public mutating func add(_ values: [Float]) {
        for v in values {
            let x = Double(v)
            count += 1
            let delta = x - mean
            mean += delta / Double(count)
            m2 += delta * (x - mean)
            maxAbs = Swift.max(maxAbs, Swift.abs(x))
        }
    }

    /// Population standard deviation (0 for no values).
    public var std: Double { count > 0 ? (m2 / Double(count)).squareRoot() : 0 }
}

/// Per round, how a method's generator samples compare with the real training data in the same
/// (sample) space: mean, std and max |x| of a fixed-size class-balanced batch drawn after the
/// server steps, beside the same figures of every client's training data (computed once per run).
/// Token models are compared in embedding space (`SampleSpace`).
public enum GeneratorSampleStatistics {
    /// Samples drawn per class each round.
    public static let samplesPerClass = 10

    /// The round's statistics of `generator`'s samples, drawn with a generator of their own
    /// (`Seeds.derive(seed, "generator-statistics", round)`) so no other random stream moves.
    public static func generated(
        _ generator: any GeneratorPlugin, classes: Int, seed: UInt64, round: Int
    ) throws -> ValueStatistics {
        let labels = try Tensor((0..<(samplesPerClass * classes)).map { $0 % classes })
        let rng = RandomGenerator(seed: Seeds.derive(seed, "generator-statistics", round))
        let samples = try withoutGrad { try generator.sample(labels: labels, generator: rng) }
        var stats = ValueStatistics()
        stats.add(try samples.floats())
        return stats
    }

    /// The statistics of every client's training data in the sample space: the inputs for
    /// continuous data, the encoder's output (`network.encode`) for token data.
    public static func realData(
        _ clients: [ClientData], kind: InputKind, network: Network, batchSize: Int
    ) throws -> ValueStatistics {
        var stats = ValueStatistics()
        for client in clients {
            let inputs = client.train.inputs
            guard case .tokens = kind else {
                stats.add(try inputs.floats())
                continue
            }
            network.setTraining(false)
            defer { network.setTraining(true) }
            for start in stride(from: 0, to: client.train.count, by: batchSize) {
                let batch = try inputs.slice(start..<Swift.min(start + batchSize, client.train.count))
                stats.add(try withoutGrad { try network.encode(batch) }.floats())
            }
        }
        return stats
    }

    /// The server metrics written to rounds.jsonl.
    public static func metrics(generated: ValueStatistics, real: ValueStatistics) -> [String: Double] {
        [
            "generator_sample_mean": generated.mean, "generator_sample_std": generated.std,
            "generator_sample_max_abs": generated.maxAbs,
            "real_data_mean": real.mean, "real_data_std": real.std, "real_data_max_abs": real.maxAbs,
        ]
    }
}
