import FedKit
import Torch

/// Runs an aggregator the way the engine does, on states written by hand.
public enum AggregatorHarness {
    /// A state of the shape every helper here uses: `body.0.weight` [2] and `head.0.bias` [1].
    public static func state(_ weight: [Float], _ bias: [Float]) throws -> StateDict {
        StateDict([("body.0.weight", try Tensor(weight)), ("head.0.bias", try Tensor(bias))])
    }

    /// One update per row (client i, `samples[i]` samples, default 1 each).
    public static func updates(
        _ rows: [(weight: [Float], bias: [Float])], samples: [Int]? = nil
    ) throws -> [ClientUpdate] {
        try rows.enumerated().map { i, row in
            ClientUpdate(client: i, state: try state(row.weight, row.bias), samples: samples?[i] ?? 1)
        }
    }

    /// Aggregates and writes the result into `global`, as the engine does after every round
    /// (entries the result does not list keep their values). Returns the aggregator's result.
    @discardableResult
    public static func apply(
        _ aggregator: some AggregatorPlugin, to global: StateDict,
        _ updates: [ClientUpdate]
    ) throws -> AggregationResult {
        guard aggregator.updatesGlobalModel else { return .unchanged }
        let result = try aggregator.aggregate(updates, global: global)
        try global.update(from: result.state)
        return result
    }
}
