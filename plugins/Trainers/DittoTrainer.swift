import FedKit
import Torch

/// Ditto's client update (Li et al., "Ditto: Fair and Robust Federated Learning through
/// Personalization", ICML 2021).
///
/// 1. The global update: `context.model` (started from the global model) is trained with plain
///    local SGD; this is what the server aggregates.
/// 2. The personal model v (the client's stored one, or the global model the first time) is
///    trained in the worker's scratch network on cross-entropy + lambda/2 ||v - w_global||^2,
///    w_global being the model received this round, for `personal_epochs` epochs.
/// The trainer returns v as the client's personal state. lambda = 0 gives purely local personal
/// models; large lambda pulls them onto the global model. Both phases use the federation's SGD
/// settings. The reported loss is the personal phase's last epoch (cross-entropy only).
public struct DittoTrainer: TrainerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "ditto",
        summary: "local SGD for the global model plus a personal model regularised toward it (Ditto)",
        keys: [lambda, personalEpochs])

    public static let lambda = ParameterKey.double(
        "lambda", default: 1, min: 0,
        doc:
            "strength of the pull lambda/2 ||v - w_global||^2 of the personal model toward the round's global model (official Ditto scripts: 1)"
    )
    public static let personalEpochs = ParameterKey.optionalInt(
        "personal_epochs", min: 0, doc: "epochs training the personal model (default: federation.local_epochs)")

    public let lambda: Double
    public let personalEpochs: Int?

    public init(parameters p: Parameters) throws {
        lambda = p[Self.lambda]
        personalEpochs = p[Self.personalEpochs]
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        // The personal model's dropout stream, drawn first so both phases stay reproducible.
        let dropoutSeed = try Tensor.randint(0, Int(Int32.max), [1], generator: context.generator).ints()[0]

        let model = context.model
        let global = try LocalLoop.run(
            context, epochs: context.settings.epochs, parameters: model.parameters,
            phase: "global", loss: LocalLoop.crossEntropy(model))

        let personal = context.scratch
        try personal.load(context.global)
        if let stored = context.personal { try personal.load(stored, strict: false) }
        personal.setTraining(true)
        personal.generator.reseed(UInt64(dropoutSeed))
        let named = personal.namedParameters
        let result = try LocalLoop.run(
            context, epochs: personalEpochs ?? context.settings.epochs, parameters: named.map(\.tensor),
            proximal: ProximalTerm(mu: lambda, parameters: named, state: context.global),
            phase: "personal", loss: LocalLoop.crossEntropy(personal))
        return LocalTrainingReport(
            trainLoss: result.steps > 0 ? result.lastEpochLoss : global.lastEpochLoss,
            steps: global.steps + result.steps, personal: try personal.stateDict().copy())
    }
}

extension DittoTrainer: StackedTrainer {
    /// Both phases for a stack: the global update on `stack.network`, then the personal models in
    /// a second stack, each pulled toward the round's global model.
    public func train(_ stack: ClientStack) throws -> [LocalTrainingReport] {
        // The draw `train(_:)` makes first (its dropout seed), so that every generator stays in step.
        for context in stack.contexts { _ = try Tensor.randint(0, Int(Int32.max), [1], generator: context.generator) }
        let network = stack.network
        let all = Array(network.parameters.indices)
        let global = try StackedLocalLoop.run(stack, epochs: stack.settings.epochs, parameters: all, phase: "global",
                                              loss: StackedLocalLoop.crossEntropy(network))
        let personal = try StackedNetwork(template: stack.template, count: stack.count)
        for (s, context) in stack.contexts.enumerated() {
            try personal.load(context.global, into: s)
            if let stored = context.personal { try personal.load(stored, into: s, strict: false) }
        }
        let result = try StackedLocalLoop.run(
            stack, network: personal, epochs: personalEpochs ?? stack.settings.epochs, parameters: all,
            proximal: StackedProximalTerm(mu: lambda, network: personal, parameters: all, states: stack.contexts.map(\.global)),
            phase: "personal", loss: StackedLocalLoop.crossEntropy(personal))
        return try stack.contexts.indices.map { s in
            LocalTrainingReport(trainLoss: result[s].steps > 0 ? result[s].lastEpochLoss : global[s].lastEpochLoss,
                                steps: global[s].steps + result[s].steps, personal: try personal.state(of: s))
        }
    }
}
