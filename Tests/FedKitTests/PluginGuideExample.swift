import FedKit
import Torch

/// `trimmed-mean`: a robust aggregator (Yin et al., "Byzantine-Robust Distributed Learning:
/// Towards Optimal Statistical Rates", ICML 2018). For every coordinate of the model the server
/// sorts the K client values, drops the floor(trim * K) smallest and the floor(trim * K) largest,
/// and averages the rest, unweighted. `trim: 0` is the plain mean of the client models.
public struct TrimmedMean: AggregatorPlugin {
    /// The parameter, declared once: name, type, default, range and doc.
    public static let trim = ParameterKey.double(
        "trim", default: 0.1, min: 0, max: 0.45,
        doc: "fraction of the clients dropped at each end, per coordinate (0: plain mean)")

    /// Drives YAML validation, defaults, `exp list` and docs/yaml-reference.md.
    public static let descriptor = PluginDescriptor(
        kind: .aggregator, name: "trimmed-mean",
        summary: "coordinate-wise trimmed mean of the client models (robust to outlying clients)",
        keys: [trim])

    public let trim: Double

    /// Called with validated parameters (range checked, default filled in).
    public init(parameters: Parameters) throws {
        trim = parameters[Self.trim]
    }

    /// The server's model changes every round (`none`, local training, returns false).
    public var updatesGlobalModel: Bool { true }

    public func aggregate(_ updates: [ClientUpdate], global: StateDict) throws -> AggregationResult {
        guard !updates.isEmpty else { return .unchanged }
        let k = updates.count
        let cut = Int((trim * Double(k)).rounded(.down))
        // One row per client: its whole model as one vector, entries in the global model's order.
        let rows = try updates.map { update -> [Float] in
            guard update.state.names == global.names else {
                throw PluginError("trimmed-mean: client \(update.client)'s model does not match the global model")
            }
            return try update.state.flattened().floats()
        }
        var mean = [Float](repeating: 0, count: rows[0].count)
        var column = [Float](repeating: 0, count: k)
        for j in mean.indices {
            for i in 0..<k { column[i] = rows[i][j] }
            column.sort()
            var sum = 0.0
            for value in column[cut..<(k - cut)] { sum += Double(value) }
            mean[j] = Float(sum / Double(k - 2 * cut))
        }
        // New values for every entry; the engine writes them into the global model.
        let result = try global.copy()
        try result.load(flat: Tensor(mean))
        return AggregationResult(state: result, metrics: ["trimmed_mean.dropped_per_side": Double(cut)])
    }
}
