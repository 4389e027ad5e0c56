import FedKit
import Torch

/// FedAvg's server step: the global model becomes the weighted mean of the client models,
/// weights n_k / sum_j n_j (`weighting: samples`) or 1/K (`uniform`).
///
/// `scope: all` averages every entry, parameters and buffers (batch-norm running statistics)
/// alike; `scope: body` averages only `body.*` entries and leaves the global head untouched
/// (FedPer, FedRep: heads stay personal). Each client state is flattened into one vector and
/// accumulated with one fused multiply-add; the mean is scattered into a copy of the averaged
/// entries, which the engine writes into the global model.
public struct WeightedAverage: AggregatorPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .aggregator, name: "weighted-average",
        summary: "weighted mean of the client models (FedAvg); all entries or the body only",
        keys: [scope, weighting])

    /// Which entries are averaged and exchanged.
    public enum Scope: String, CaseIterable, Sendable {
        case all, body
    }

    /// How clients are weighted.
    public enum Weighting: String, CaseIterable, Sendable {
        case samples, uniform
    }

    public static let scope = ParameterKey.choice(
        "scope", default: Scope.all,
        doc: "which entries are averaged and exchanged: the whole model, or the body (the head stays personal)")
    public static let weighting = ParameterKey.choice(
        "weighting", default: Weighting.samples, doc: "client weights: proportional to training samples, or equal")

    public let scope: Scope
    public let weighting: Weighting

    public init(parameters p: Parameters) throws {
        scope = p[Self.scope]
        weighting = p[Self.weighting]
    }

    public var updatesGlobalModel: Bool { true }

    /// The entries this aggregator averages and exchanges.
    public func communicated(_ state: StateDict) -> StateDict { scope == .body ? state.under("body") : state }

    public func aggregate(_ updates: [ClientUpdate], global: StateDict) throws -> AggregationResult {
        guard !updates.isEmpty else { return .unchanged }
        let target = try communicated(global).copy()
        guard !target.isEmpty else { return .unchanged }
        let weights = try clientWeights(updates)
        let names = target.names
        var sum: Tensor?
        for (update, weight) in zip(updates, weights) {
            let selected = communicated(update.state)
            guard selected.names == names else {
                throw PluginError("weighted-average: client \(update.client)'s model does not match the global model (entries \(Self.difference(selected.names, names)))")
            }
            let flat = try selected.flattened()
            if let sum {
                try sum.add_(flat, alpha: weight)
            } else {
                try flat.mul_(weight)
                sum = flat
            }
        }
        guard let sum else { return .unchanged }
        try target.load(flat: sum)
        return AggregationResult(state: target)
    }

    /// Normalised client weights, in update order.
    func clientWeights(_ updates: [ClientUpdate]) throws -> [Double] {
        if weighting == .uniform { return Array(repeating: 1 / Double(updates.count), count: updates.count) }
        if let bad = updates.first(where: { $0.samples < 0 }) {
            throw PluginError("weighted-average: client \(bad.client) reports \(bad.samples) samples")
        }
        let total = updates.reduce(0) { $0 + $1.samples }
        guard total > 0 else { throw PluginError("weighted-average: the sampled clients have no training samples") }
        return updates.map { Double($0.samples) / Double(total) }
    }

    static func difference(_ a: [String], _ b: [String]) -> String {
        let missing = b.filter { !a.contains($0) }, extra = a.filter { !b.contains($0) }
        if missing.isEmpty, extra.isEmpty { return "in a different order" }
        return "missing \(missing), unexpected \(extra)"
    }
}
