import FedKit
import Torch

/// APFL's client update (Deng, Kamani & Mahdavi, "Adaptive Personalized Federated Learning",
/// 2020, Algorithm 1).
///
/// Each client keeps a personal model v and a mixing weight alpha across rounds and is tested with
/// the mixture v_bar = alpha v + (1 - alpha) w. Per mini-batch xi, from the values before the step:
///     w     <- w - lr * grad f(w; xi)                         (the federation's SGD; aggregated)
///     v     <- v - lr * alpha * grad f(v_bar; xi)             (grad_v f(v_bar) = alpha grad f(v_bar))
///     alpha <- clip(alpha - alpha_lr * <v - w, grad f(v_bar; xi)>, 0, 1)   (adaptive: true)
/// v and alpha take plain gradient steps, as in the paper. The first time a client trains, v
/// starts from the global model it receives and alpha from `alpha`. With `adaptive: false` alpha
/// stays at `alpha` (the authors' code fixes it at 0.75).
/// Evaluation (`EvaluationComposition`): alpha v + (1 - alpha) w with w the current global model;
/// a client that never trained is tested with the global model. The reported loss is the mixed
/// model's over the last epoch.
public struct APFLTrainer: TrainerPlugin, EvaluationComposition {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "apfl",
        summary: "global w and personal v trained together, tested as alpha v + (1 - alpha) w; alpha adaptive (APFL)",
        keys: [alpha, adaptive, alphaLearningRate])

    public static let alpha = ParameterKey.double(
        "alpha", default: 0.75, min: 0, max: 1,
        doc:
            "the mixing weight of the personal model: its initial value when adaptive, else fixed (the APFL authors' code: 0.75)"
    )
    public static let adaptive = ParameterKey.bool(
        "adaptive", default: true,
        doc: "learn alpha per client by gradient descent on the mixed model's loss (APFL's adaptive alpha)")
    public static let alphaLearningRate = ParameterKey.optionalDouble(
        "alpha_lr", min: 0, minExclusive: true,
        doc: "step size of the alpha updates (default: federation.lr, as in the paper)")

    public let alpha: Double
    public let adaptive: Bool
    public let alphaLearningRate: Double?

    public init(parameters p: Parameters) throws {
        alpha = p[Self.alpha]
        adaptive = p[Self.adaptive]
        alphaLearningRate = p[Self.alphaLearningRate]
    }

    /// The client's alpha: carried from its last round, else the initial value.
    func currentAlpha(_ carried: StateDict?) throws -> Double {
        guard let entry = carried?.entries.first(where: { $0.name == "alpha" }) else { return alpha }
        return try entry.tensor.item()
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let dropoutSeed = try Tensor.randint(0, Int(Int32.max), [1], generator: context.generator).ints()[0]
        let model = context.model, mixed = context.scratch
        let settings = context.settings
        var a = try currentAlpha(context.carried)
        let alphaStep = alphaLearningRate ?? settings.learningRate
        // v: the stored personal model, or the received global model the first time.
        try mixed.load(context.global)
        if let stored = context.personal { try mixed.load(stored, strict: false) }
        let personal = try withoutGrad { try mixed.parameters.map { try $0.clone() } }
        mixed.setTraining(true)
        mixed.generator.reseed(UInt64(dropoutSeed))
        let w = model.parameters, vBar = mixed.parameters
        let optimizer = try SGD(
            ParameterGroup.decayingWeightsOnly(w, weightDecay: settings.weightDecay),
            learningRate: settings.learningRate, momentum: settings.momentum)
        var steps = 0, lastLoss = 0.0
        for epoch in 0..<(context.data.count > 0 ? settings.epochs : 0) {
            var total = 0.0, batches = 0
            for batch in try context.data.shuffledBatches(
                size: settings.batchSize, dropLast: settings.dropLast, generator: context.generator) {
                let inputs = try context.augmentation?.apply(batch.inputs, generator: context.generator) ?? batch.inputs
                // v_bar = alpha v + (1 - alpha) w, from the values before this step.
                try withoutGrad {
                    for (target, (v, wi)) in zip(vBar, zip(personal, w)) { try target.copy_(v * a + wi * (1 - a)) }
                }
                for p in vBar { try p.zeroGrad() }
                let mixedLoss = try Loss.crossEntropy(mixed.forward(inputs), targets: batch.labels)
                let value = try mixedLoss.item()
                guard value.isFinite else {
                    throw PluginError(
                        "loss became \(value.isNaN ? "nan" : "inf") at epoch \(epoch + 1), step \(batches + 1) (mixed model)"
                    )
                }
                try mixedLoss.backward()
                var alphaGradient = 0.0
                try withoutGrad {
                    for (p, (v, wi)) in zip(vBar, zip(personal, w)) {
                        guard let g = p.grad else { continue }
                        if adaptive { alphaGradient += try ((v - wi) * g).sum().item() }
                        try v.add_(g, alpha: -settings.learningRate * a)
                    }
                }
                for p in w { try p.zeroGrad() }
                let globalLoss = try Loss.crossEntropy(model.forward(inputs), targets: batch.labels)
                guard try globalLoss.item().isFinite else {
                    throw PluginError("loss became nan at epoch \(epoch + 1), step \(batches + 1) (global model)")
                }
                try globalLoss.backward()
                try optimizer.step()
                if adaptive { a = Swift.min(1, Swift.max(0, a - alphaStep * alphaGradient)) }
                total += value
                batches += 1
            }
            steps += batches
            lastLoss = total / Double(Swift.max(1, batches))
        }
        for p in w + vBar { try p.zeroGrad() }
        // The personal state: v, with the model's buffers.
        let names = Set(mixed.namedParameters.map(\.name))
        var vByName: [String: Tensor] = [:]
        for (entry, v) in zip(mixed.namedParameters, personal) { vByName[entry.name] = v }
        let v = StateDict(
            try model.stateDict().entries.map { entry in
                (entry.name, names.contains(entry.name) ? vByName[entry.name]! : try entry.tensor.clone())
            })
        return LocalTrainingReport(
            trainLoss: lastLoss, steps: steps, personal: v,
            carried: StateDict([("alpha", try Tensor([Float(a)]))]))
    }

    /// alpha v + (1 - alpha) w, w the current global model; the global model for a client that never trained.
    public func composeEvaluationModel(_ context: ClientTrainingContext) throws {
        guard let personal = context.personal else { return }
        let a = try currentAlpha(context.carried)
        let v = Dictionary(uniqueKeysWithValues: personal.entries.map { ($0.name, $0.tensor) })
        let w = Dictionary(uniqueKeysWithValues: context.global.entries.map { ($0.name, $0.tensor) })
        try withoutGrad {
            for (name, p) in context.model.namedParameters {
                guard let vi = v[name], let wi = w[name] else {
                    throw PluginError("apfl: no personal or global entry \(name)")
                }
                try p.copy_(vi * a + wi * (1 - a))
            }
        }
    }
}
