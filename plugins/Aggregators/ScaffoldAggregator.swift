import FedKit
import Foundation
import Torch

/// SCAFFOLD's server step (Karimireddy et al., "SCAFFOLD: Stochastic Controlled Averaging for
/// Federated Learning", ICML 2020, Algorithm 1).
///
/// Keeps the server control variate c across rounds (zero at the start; sent to every sampled
/// client with the round, read by the `scaffold` trainer) and, for the sampled set S of N clients,
///     x <- x + lr_g * mean_{i in S} (y_i - x)        (uniform mean, as the paper; or sample-weighted)
///     c <- c + (1 / N) * sum_{i in S} delta c_i       (every client's c_i counts, sampled or not)
/// The state c is checkpointed (`RoundCarriedState`). One instance serves one run.
public final class ScaffoldAggregator: AggregatorPlugin, RoundPayloadSource, RoundCarriedState, @unchecked Sendable {
    public static let descriptor = PluginDescriptor(
        kind: .aggregator, name: "scaffold",
        summary: "model average with a global step size plus the server control variate c (SCAFFOLD)",
        keys: [serverLearningRate, weighting])

    public static let serverLearningRate = ParameterKey.double(
        "server_lr", default: 1, min: 0, max: 2, minExclusive: true,
        doc: "global step size lr_g: x <- x + lr_g * mean(y_i - x) (SCAFFOLD: 1)")
    public static let weighting = ParameterKey.choice(
        "weighting", default: WeightedAverage.Weighting.uniform,
        doc: "weights of the clients' models in the mean (SCAFFOLD: uniform over the sampled clients)")

    let average: WeightedAverage
    /// N, the number of clients in the federation.
    var clients = 0
    /// The server control variate c by parameter name (empty until the first aggregation: zero).
    var control = StateDict([])

    public init(parameters p: Parameters) throws {
        average = try WeightedAverage.make(
            Parameters()
                .setting(WeightedAverage.scope, .all)
                .setting(WeightedAverage.weighting, p[Self.weighting])
                .setting(WeightedAverage.serverLearningRate, p[Self.serverLearningRate]))
    }

    public var updatesGlobalModel: Bool { true }

    public func start(_ federation: FederationFacts) throws {
        clients = federation.clients
        control = StateDict([])
    }

    /// c, the same for every client of the round.
    public func payload(round: Int) throws -> StateDict { control }

    public func aggregate(_ updates: [ClientUpdate], global: StateDict) throws -> AggregationResult {
        guard !updates.isEmpty else { return .unchanged }
        let result = try average.aggregate(updates, global: global)
        guard clients > 0 else {
            throw PluginError("scaffold: aggregate called before start (the number of clients is unknown)")
        }
        // c <- c + (1/N) sum delta c_i, entry by entry; c starts at zero with the names clients send.
        let names = updates[0].upload.names
        guard !names.isEmpty else {
            throw PluginError(
                "scaffold: client \(updates[0].client) sent no control-variate change (use the scaffold trainer)")
        }
        let next =
            try control.isEmpty
            ? updates[0].upload.entries.map { ($0.name, try $0.tensor.zerosLike()) }
            : control.entries.map { ($0.name, try $0.tensor.clone()) }
        guard next.map(\.0) == names else {
            throw PluginError(
                "scaffold: client \(updates[0].client)'s control-variate change does not match c (entries \(names))")
        }
        try withoutGrad {
            for update in updates {
                guard update.upload.names == names else {
                    throw PluginError(
                        "scaffold: client \(update.client)'s control-variate change has entries \(update.upload.names), expected \(names)"
                    )
                }
                for (i, delta) in update.upload.tensors.enumerated() {
                    try next[i].1.add_(delta, alpha: 1 / Double(clients))
                }
            }
        }
        control = StateDict(next.map { (name: $0.0, tensor: $0.1) })
        return result
    }

    public func saveCarriedState() throws -> StateDict {
        StateDict(
            try control.entries.map { ("control.\($0.name)", try $0.tensor.clone()) }
                + [("clients", try Tensor([clients]))])
    }

    public func restoreCarriedState(_ state: StateDict) throws {
        guard let n = state.entries.first(where: { $0.name == "clients" }) else {
            throw PluginError("scaffold: the saved server state has no entry 'clients'")
        }
        clients = try n.tensor.ints()[0]
        control = StateDict(
            state.under("control").entries.map { (String($0.name.dropFirst("control.".count)), $0.tensor) })
    }
}
