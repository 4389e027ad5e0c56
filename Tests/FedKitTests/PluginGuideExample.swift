import FedKit
import Torch

/// `trimmed-mean`: a robust aggregator (Yin et al., "Byzantine-Robust Distributed Learning:
/// Towards Optimal Statistical Rates", ICML 2018). For every coordinate of the model the server
/// sorts the K client values, drops the floor(trim * K) smallest and the floor(trim * K) largest,
/// and averages the rest, unweighted. `trim: 0` is the plain mean of the client models.
public struct TrimmedMean: AggregatorPlugin {
    /// The one declaration that drives YAML validation, defaults, `exp list` and the reference.
    public static let descriptor = PluginDescriptor(
        kind: .aggregator, name: "trimmed-mean",
        summary: "coordinate-wise trimmed mean of the client models (robust to outlying clients)",
        parameters: [
            .double("trim", default: 0.1, min: 0, max: 0.45,
                    doc: "fraction of the clients dropped at each end, per coordinate (0: plain mean)"),
        ])

    public let trim: Double

    /// Called by the registry with validated parameters, every default filled in.
    public init(parameters: Parameters) throws {
        try self.init(trim: parameters.double("trim"))
    }

    public init(trim: Double) throws {
        // The registry has checked the declared range already; code that builds the plugin
        // directly has not.
        guard trim >= 0, trim <= 0.45 else { throw PluginError("trimmed-mean: trim must be in [0, 0.45], got \(trim)") }
        self.trim = trim
    }

    /// The server's model changes every round (`none`, local training, returns false).
    public var updatesGlobalModel: Bool { true }

    public func aggregate(into global: StateDict, updates: [ClientUpdate]) throws {
        guard !updates.isEmpty else { return }
        let k = updates.count
        let cut = Int((trim * Double(k)).rounded(.down))
        // One row per client: its whole model as one vector, entries in the global model's order.
        let rows = try updates.map { update -> [Float] in
            guard update.state.names == global.names else {
                throw PluginError("trimmed-mean: client \(update.client)'s model does not match the global model")
            }
            return try update.state.flattened().floats()
        }
        var result = [Float](repeating: 0, count: rows[0].count)
        var column = [Float](repeating: 0, count: k)
        for j in result.indices {
            for i in 0..<k { column[i] = rows[i][j] }
            column.sort()
            var sum = 0.0
            for value in column[cut..<(k - cut)] { sum += Double(value) }
            result[j] = Float(sum / Double(k - 2 * cut))
        }
        // Writes into the live global tensors, in place.
        try global.load(flat: Tensor(result))
    }
}
