import FedKit
import Torch

/// FedProx's client update (Li et al., MLSys 2020): local SGD on
/// cross-entropy + mu/2 * ||w - w_global||^2 over all parameters, w_global being the model the
/// client received this round. The reported loss is the cross-entropy alone.
public struct ProxTrainer: TrainerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "prox",
        summary: "local SGD with FedProx's proximal term mu/2 ||w - w_global||^2",
        keys: [mu])

    public static let mu = ParameterKey.double(
        "mu", default: 0.01, min: 0, minExclusive: true,
        doc: "strength of the proximal term pulling local weights toward the round's global model")

    public let mu: Double

    public init(parameters p: Parameters) throws {
        mu = p[Self.mu]
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        let named = model.namedParameters
        let result = try LocalLoop.run(
            context, epochs: context.settings.epochs, parameters: named.map(\.tensor),
            proximal: ProximalTerm(mu: mu, parameters: named, state: context.global),
            loss: LocalLoop.crossEntropy(model))
        return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
    }
}

extension ProxTrainer: StackedTrainer {
    public func train(_ stack: ClientStack) throws -> [LocalTrainingReport] {
        let network = stack.network
        let all = Array(network.parameters.indices)
        return try StackedLocalLoop.run(
            stack, epochs: stack.settings.epochs, parameters: all,
            proximal: StackedProximalTerm(mu: mu, network: network, parameters: all, states: stack.contexts.map(\.global)),
            loss: StackedLocalLoop.crossEntropy(network))
            .map { LocalTrainingReport(trainLoss: $0.lastEpochLoss, steps: $0.steps) }
    }
}
