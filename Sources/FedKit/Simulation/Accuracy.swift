import Torch

/// Batched, no-grad evaluation helpers.
public enum Accuracy {
    /// Per-sample correctness of `model` (eval mode) on `samples`.
    public static func correctness(of model: Network, on samples: LabeledSamples, batchSize: Int) throws -> [Bool] {
        try correctness(samples, batchSize: batchSize) { try model.forward($0) }
    }

    /// Per-sample correctness of any logits function.
    public static func correctness(
        _ samples: LabeledSamples, batchSize: Int, logits: (Tensor) throws -> Tensor
    ) throws -> [Bool] {
        guard samples.count > 0 else { return [] }
        return try withoutGrad {
            var predictions: [Int] = []
            predictions.reserveCapacity(samples.count)
            for batch in try samples.orderedBatches(size: batchSize) {
                predictions += try logits(batch.inputs).argmax(dim: 1).ints()
            }
            return zip(predictions, samples.labelArray).map { $0 == $1 }
        }
    }

    /// Fraction correct (0 for an empty set).
    public static func fraction(_ correct: some Collection<Bool>) -> Double {
        correct.isEmpty ? 0 : Double(correct.lazy.filter { $0 }.count) / Double(correct.count)
    }
}

/// The distribution of per-client accuracies that docs/design.md §7 asks for.
public struct PersonalizedAccuracy: Sendable, Equatable, Codable {
    /// Weighted by each client's test size.
    public var weightedMean: Double
    public var mean: Double
    public var std: Double
    /// The 10th percentile of client accuracies.
    public var bottomDecile: Double
    public var worst: Double
    /// The number of clients scored.
    public var clients: Int

    /// The figures over the clients that have an accuracy (nil: not scored).
    public static func over(_ accuracies: [Double?], testSizes: [Int]) -> PersonalizedAccuracy? {
        let scored = zip(accuracies, testSizes).compactMap { a, n in a.map { ($0, n) } }
        guard !scored.isEmpty else { return nil }
        return PersonalizedAccuracy(accuracies: scored.map(\.0), testSizes: scored.map(\.1))
    }

    public init(accuracies: [Double], testSizes: [Int]) {
        let n = accuracies.count
        clients = n
        guard n > 0 else {
            weightedMean = 0; mean = 0; std = 0; bottomDecile = 0; worst = 0
            return
        }
        let totalSize = Double(testSizes.reduce(0, +))
        weightedMean = totalSize > 0 ? zip(accuracies, testSizes).reduce(0) { $0 + $1.0 * Double($1.1) } / totalSize : 0
        let m = accuracies.reduce(0, +) / Double(n)
        mean = m
        std = (accuracies.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n)).squareRoot()
        let sorted = accuracies.sorted()
        worst = sorted[0]
        // Nearest-rank 10th percentile.
        bottomDecile = sorted[max(0, Int((0.1 * Double(n)).rounded(.up)) - 1)]
    }
}
