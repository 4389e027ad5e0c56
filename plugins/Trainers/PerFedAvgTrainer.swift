import FedKit
import Torch

/// Per-FedAvg's client update (Fallah, Mokhtari & Ozdaglar, "Personalized Federated Learning
/// with Theoretical Guarantees: A Model-Agnostic Meta-Learning Approach", NeurIPS 2020).
///
/// The global model minimises F(w) = mean_i f_i(w - alpha grad f_i(w)): the loss after one local
/// step. Each meta-step draws independent mini-batches D, D' (and D'' for Hessian-free):
///     w' = w - alpha grad f(w; D)
///     first-order:   w <- w - beta grad f(w'; D')
///     hessian-free:  w <- w - beta (I - alpha H(w; D'')) grad f(w'; D'), with
///                    H v ~ (grad f(w + delta v; D'') - grad f(w - delta v; D'')) / (2 delta)
/// Each epoch takes floor(batches / 2) (first-order) or floor(batches / 3) (hessian-free)
/// meta-steps, at least one, over a fresh shuffle; all steps are plain gradient steps (no
/// momentum or weight decay), as in the paper.
/// Evaluation (`EvaluationComposition`): each client takes one step w - alpha grad f(w; D) from
/// the global model on one mini-batch of its training data and is tested with the result.
public struct PerFedAvgTrainer: TrainerPlugin, EvaluationComposition {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "per-fedavg",
        summary: "MAML-style meta-steps (first-order or Hessian-free); one local step before testing (Per-FedAvg)",
        keys: [variant, alpha, beta, delta])

    public static let variant = ParameterKey.choice(
        "variant", default: Variant.firstOrder,
        doc:
            "Per-FedAvg (FO): drop the Hessian term; Per-FedAvg (HF): approximate it by a finite difference of gradients"
    )
    public static let alpha = ParameterKey.optionalDouble(
        "alpha", min: 0, minExclusive: true,
        doc:
            "step size of the inner (personalisation) step, also the one step taken before testing (default: federation.lr)"
    )
    public static let beta = ParameterKey.optionalDouble(
        "beta", min: 0, minExclusive: true, doc: "step size of the meta (outer) step (default: federation.lr)")
    public static let delta = ParameterKey.double(
        "delta", default: 0.001, min: 0, minExclusive: true,
        doc: "finite-difference step of the Hessian-vector product (hessian-free only)")

    /// How the meta-gradient treats the Hessian term.
    public enum Variant: String, CaseIterable, Sendable {
        case firstOrder = "first-order"
        case hessianFree = "hessian-free"
    }

    public let hessianFree: Bool
    public let alpha: Double?
    public let beta: Double?
    public let delta: Double

    public init(parameters p: Parameters) throws {
        hessianFree = p[Self.variant] == .hessianFree
        alpha = p[Self.alpha]
        beta = p[Self.beta]
        delta = p[Self.delta]
    }

    /// The loss on `batch` and its gradient for every parameter (copies), at the parameters' current values.
    static func gradient(
        _ model: Network, _ batch: (inputs: Tensor, labels: Tensor)
    ) throws -> (loss: Double, gradient: [Tensor]) {
        let parameters = model.parameters
        for p in parameters { try p.zeroGrad() }
        let loss = try Loss.crossEntropy(model.forward(batch.inputs), targets: batch.labels)
        let value = try loss.item()
        guard value.isFinite else { throw PluginError("loss became \(value.isNaN ? "nan" : "inf")") }
        try loss.backward()
        let gradient = try parameters.map { p in try p.grad?.clone() ?? p.zerosLike() }
        for p in parameters { try p.zeroGrad() }
        return (value, gradient)
    }

    /// parameters <- base + scale * direction.
    static func set(_ parameters: [Tensor], _ base: [Tensor], plus direction: [Tensor], times scale: Double) throws {
        try withoutGrad {
            for (p, (b, d)) in zip(parameters, zip(base, direction)) {
                try p.copy_(b)
                if scale != 0 { try p.add_(d, alpha: scale) }
            }
        }
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        let parameters = model.parameters
        let a = alpha ?? context.settings.learningRate, b = beta ?? context.settings.learningRate
        let batchesPerStep = hessianFree ? 3 : 2
        var steps = 0, lastLoss = 0.0
        guard context.data.count > 0 else { return LocalTrainingReport(trainLoss: 0, steps: 0) }
        for epoch in 1...max(1, context.settings.epochs) {
            let batches = try context.data.shuffledBatches(
                size: context.settings.batchSize, dropLast: context.settings.dropLast, generator: context.generator
            ).map { batch in
                (
                    inputs: try context.augmentation?.apply(batch.inputs, generator: context.generator) ?? batch.inputs,
                    labels: batch.labels
                )
            }
            let metaSteps = max(1, batches.count / batchesPerStep)
            var total = 0.0
            for s in 0..<metaSteps {
                let d = batches[(batchesPerStep * s) % batches.count],
                    dPrime = batches[(batchesPerStep * s + 1) % batches.count]
                let w = try withoutGrad { try parameters.map { try $0.clone() } }
                do {
                    let inner = try Self.gradient(model, d)
                    try Self.set(parameters, w, plus: inner.gradient, times: -a)
                    let outer = try Self.gradient(model, dPrime)
                    var direction = outer.gradient
                    if hessianFree {
                        let dSecond = batches[(batchesPerStep * s + 2) % batches.count]
                        try Self.set(parameters, w, plus: outer.gradient, times: delta)
                        let plus = try Self.gradient(model, dSecond).gradient
                        try Self.set(parameters, w, plus: outer.gradient, times: -delta)
                        let minus = try Self.gradient(model, dSecond).gradient
                        // (I - alpha H) g ~ g - alpha (grad(w + delta g) - grad(w - delta g)) / (2 delta)
                        direction = try zip(outer.gradient, zip(plus, minus)).map { g, pm in
                            try g - (pm.0 - pm.1) * (a / (2 * delta))
                        }
                    }
                    try Self.set(parameters, w, plus: direction, times: -b)
                    total += outer.loss
                } catch let error as PluginError {
                    throw PluginError("\(error.message) at epoch \(epoch), meta-step \(s + 1)")
                }
            }
            steps += metaSteps
            lastLoss = total / Double(metaSteps)
        }
        return LocalTrainingReport(trainLoss: lastLoss, steps: steps)
    }

    /// One step w - alpha grad f(w; D) on one mini-batch of the client's training data.
    public func composeEvaluationModel(_ context: ClientTrainingContext) throws {
        guard context.data.count > 0 else { return }
        let batch = try context.data.shuffledBatches(size: context.settings.batchSize, generator: context.generator)[0]
        let parameters = context.model.parameters
        let w = try withoutGrad { try parameters.map { try $0.clone() } }
        let step = try Self.gradient(context.model, batch)
        try Self.set(parameters, w, plus: step.gradient, times: -(alpha ?? context.settings.learningRate))
    }
}
