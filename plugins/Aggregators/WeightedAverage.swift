import FedKit
import Torch

/// FedAvg's server step: the global model becomes the weighted mean of the client models,
/// weights n_k / sum_j n_j (`weighting: samples`) or 1/K (`uniform`).
///
/// `scope: all` averages every entry, parameters and buffers (batch-norm running statistics)
/// alike; `scope: body` averages only `body.*` entries and leaves the global head untouched
/// (FedPer, FedRep: heads stay personal); `scope: top` averages only the last `top_layers` layers
/// that hold entries, the head first (LG-FedAvg: the lower layers stay local). Each client state
/// is flattened into one vector and accumulated with one fused multiply-add; the mean is scattered
/// into a copy of the averaged entries, which the engine writes into the global model.
///
/// `server_lr` (beta) moves the global model part of the way: w <- (1 - beta) w + beta * mean
/// (pFedMe's server step; SCAFFOLD's global step size). beta = 1 is FedAvg.
public struct WeightedAverage: AggregatorPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .aggregator, name: "weighted-average",
        summary: "weighted mean of the client models (FedAvg); all entries or the body only",
        keys: [scope, topLayers, serverLearningRate, weighting])

    /// Which entries are averaged and exchanged.
    public enum Scope: String, CaseIterable, Sendable {
        case all, body, top
    }

    /// How clients are weighted.
    public enum Weighting: String, CaseIterable, Sendable {
        case samples, uniform
    }

    public static let scope = ParameterKey.choice(
        "scope", default: Scope.all,
        doc:
            "which entries are averaged and exchanged: the whole model, the body (the head stays personal), or the top_layers last layers (the lower layers stay local: LG-FedAvg)"
    )
    public static let topLayers = ParameterKey.int(
        "top_layers", default: 2, min: 1,
        doc: "with scope top: how many layers, counted from the output (the head's layers first), are averaged")
    public static let serverLearningRate = ParameterKey.double(
        "server_lr", default: 1, min: 0, max: 2, minExclusive: true,
        doc: "server step size beta: w <- (1 - beta) w + beta * mean (1: plain average; pFedMe's beta)")
    public static let weighting = ParameterKey.choice(
        "weighting", default: Weighting.samples, doc: "client weights: proportional to training samples, or equal")

    public let scope: Scope
    public let weighting: Weighting
    public let topLayers: Int
    public let serverLearningRate: Double

    public init(parameters p: Parameters) throws {
        scope = p[Self.scope]
        weighting = p[Self.weighting]
        topLayers = p[Self.topLayers]
        serverLearningRate = p[Self.serverLearningRate]
    }

    public var updatesGlobalModel: Bool { true }

    /// The entries this aggregator averages and exchanges.
    public func communicated(_ state: StateDict) -> StateDict {
        switch scope {
        case .body: return state.under("body")
        case .top: return Self.topLayers(topLayers, of: state)
        case .all: return state
        }
    }

    /// The entries of the last `count` layers of `state` (a layer: the entries sharing a name up to
    /// the last dot, e.g. `body.7.weight` and `body.7.bias`), in state order.
    public static func topLayers(_ count: Int, of state: StateDict) -> StateDict {
        func layer(_ name: String) -> Substring { name.lastIndex(of: ".").map { name[..<$0] } ?? Substring(name) }
        var layers: [Substring] = []
        for name in state.names where layers.last != layer(name) { layers.append(layer(name)) }
        let kept = Set(layers.suffix(count))
        return state.filter { kept.contains(layer($0)) }
    }

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
                throw PluginError(
                    "weighted-average: client \(update.client)'s model does not match the global model (entries \(Self.difference(selected.names, names)))"
                )
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
        if serverLearningRate != 1 {
            try sum.mul_(serverLearningRate)
            try sum.add_(target.flattened(), alpha: 1 - serverLearningRate)
        }
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
