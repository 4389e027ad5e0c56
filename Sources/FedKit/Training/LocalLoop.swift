import Torch

/// A pull toward fixed anchor values: adds mu/2 * ||w - anchor||^2 to the objective of the
/// optimised parameters (FedProx's proximal term, Ditto's personal regulariser).
///
/// Its gradient mu * (w - anchor) is added to each parameter's gradient after the backward pass
/// (two in-place ops per tensor, no graph nodes); the reported loss is the data loss alone.
public struct ProximalTerm {
    /// The strength mu (0 adds nothing).
    public let mu: Double
    /// One anchor per optimised parameter, in the same order.
    public let anchors: [Tensor]

    /// Anchors for `parameters` (named as in the model) taken from `state` by name. Throws a
    /// `PluginError` when `state` lacks an entry or has it in another shape.
    public init(mu: Double, parameters: [(name: String, tensor: Tensor)], state: StateDict) throws {
        var byName: [String: Tensor] = [:]
        for entry in state.entries { byName[entry.name] = entry.tensor }
        anchors = try parameters.map { p in
            guard let anchor = byName[p.name], anchor.shape == p.tensor.shape else {
                throw PluginError("proximal term: the global state has no entry \(p.name) of shape \(p.tensor.shape)")
            }
            return anchor
        }
        self.mu = mu
    }

    /// grad += mu * (w - anchor) for every parameter that has a gradient.
    public func addGradient(to parameters: [Tensor]) throws {
        guard mu != 0 else { return }
        for (p, anchor) in zip(parameters, anchors) {
            guard let g = p.grad else { continue }
            try g.add_(p, alpha: mu)
            try g.add_(anchor, alpha: -mu)
        }
    }
}

/// What one phase of local training did.
public struct PhaseResult: Sendable, Equatable {
    /// Mean loss over the last epoch's batches (0 when no batch ran).
    public var lastEpochLoss: Double = 0
    /// Optimiser steps taken.
    public var steps: Int = 0

    public init(lastEpochLoss: Double = 0, steps: Int = 0) {
        self.lastEpochLoss = lastEpochLoss
        self.steps = steps
    }
}

/// The epoch/batch loop every built-in trainer shares, for plugin authors to reuse: shuffled
/// mini-batches (one index_select each) drawn from `context.generator`, optional augmentation,
/// forward, backward, optional proximal gradient, SGD step.
///
/// The optimiser (SGD with the federation's lr and momentum, weight decay on weights only) is
/// created once per call; gradients are dropped before every step and after the last one; a NaN
/// or infinite loss throws a `PluginError` at once, naming the epoch, step and `phase`.
///
/// ```
/// let model = context.model
/// let result = try LocalLoop.run(context, epochs: context.settings.epochs, parameters: model.parameters,
///                                loss: LocalLoop.crossEntropy(model))
/// return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
/// ```
public enum LocalLoop {
    /// Trains `parameters` for `epochs` epochs over `data` (default: the client's training data).
    /// - Parameters:
    ///   - augment: applies `context.augmentation` to each batch (set false for precomputed features).
    ///   - proximal: a pull toward anchors added to the gradients (FedProx, Ditto).
    ///   - settings: replaces the federation's SGD settings (SCAFFOLD's plain SGD).
    ///   - adjustGradients: runs after the backward pass and the proximal term, before the step
    ///     (SCAFFOLD's control-variate correction).
    ///   - phase: named in the error when the loss diverges ("head", "body", ...).
    ///   - loss: the batch loss from inputs and int64 labels.
    public static func run(
        _ context: ClientTrainingContext, epochs: Int, parameters: [Tensor],
        data: LabeledSamples? = nil, augment: Bool = true, proximal: ProximalTerm? = nil,
        settings override: LocalHyperparameters? = nil, adjustGradients: (([Tensor]) throws -> Void)? = nil,
        phase: String? = nil,
        loss: (_ inputs: Tensor, _ labels: Tensor) throws -> Tensor
    ) throws -> PhaseResult {
        var result = PhaseResult()
        let samples = data ?? context.data
        guard epochs > 0, !parameters.isEmpty, samples.count > 0 else { return result }
        let settings = override ?? context.settings
        let optimizer = try SGD(
            ParameterGroup.decayingWeightsOnly(parameters, weightDecay: settings.weightDecay),
            learningRate: settings.learningRate, momentum: settings.momentum)
        let augmentation = augment ? context.augmentation : nil
        for epoch in 1...epochs {
            var total = 0.0
            var batches = 0
            for batch in try samples.shuffledBatches(
                size: settings.batchSize, dropLast: settings.dropLast, generator: context.generator) {
                let inputs = try augmentation?.apply(batch.inputs, generator: context.generator) ?? batch.inputs
                for p in parameters { try p.zeroGrad() }
                let value = try loss(inputs, batch.labels)
                let scalar = try value.item()
                guard scalar.isFinite else {
                    throw PluginError(
                        "loss became \(scalar.isNaN ? "nan" : "inf") at epoch \(epoch), step \(batches + 1)"
                            + (phase.map { " (\($0) phase)" } ?? ""))
                }
                try value.backward()
                try proximal?.addGradient(to: parameters)
                try adjustGradients?(parameters)
                try optimizer.step()
                total += scalar
                batches += 1
            }
            result.steps += batches
            result.lastEpochLoss = total / Double(max(1, batches))
        }
        // Leave no gradients behind on the worker's model.
        for p in parameters { try p.zeroGrad() }
        return result
    }

    /// Cross-entropy of the network's logits: the loss of every built-in trainer.
    public static func crossEntropy(_ network: Network) -> (Tensor, Tensor) throws -> Tensor {
        { inputs, labels in try Loss.crossEntropy(network.forward(inputs), targets: labels) }
    }
}

/// The engine's fine-tuning for the `+FT` evaluation variant (`eval.finetune_epochs`, see
/// docs/design.md §7): plain local SGD on cross-entropy over all parameters — the same update as
/// the `sgd` trainer, owned by the engine so that evaluation never depends on a plugin's name.
public struct FineTuning: Sendable {
    public init() {}

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        let result = try LocalLoop.run(
            context, epochs: context.settings.epochs, parameters: model.parameters,
            loss: LocalLoop.crossEntropy(model))
        return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
    }
}
