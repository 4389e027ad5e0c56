import FedKit
import Torch

/// pFedMe's client update (Dinh, Tran & Nguyen, "Personalized Federated Learning with Moreau
/// Envelopes", NeurIPS 2020, Algorithm 1).
///
/// The client's local model w starts from the global model. For each mini-batch D it first
/// solves the Moreau-envelope inner problem approximately, by K gradient steps from the previous
/// theta (the global model at the first batch):
///     theta <- theta - personal_lr * (grad f(theta; D) + lambda (theta - w))
/// then moves w toward the personalised model:  w <- w - lr * lambda * (w - theta).
/// The client sends w (the server mixes it with beta: weighted-average's server_lr) and keeps
/// theta as its personal model, which it is tested with. All steps are plain gradient steps, as
/// in the paper; the reported loss is f(theta; D) at the last inner step of each batch.
public struct PFedMeTrainer: TrainerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "pfedme",
        summary:
            "Moreau-envelope personal model theta (K inner steps per batch), local model pulled toward it (pFedMe)",
        keys: [lambda, innerSteps, personalLearningRate])

    public static let lambda = ParameterKey.double(
        "lambda", default: 15, min: 0, minExclusive: true,
        doc: "regularisation lambda of the Moreau envelope f(theta) + lambda/2 ||theta - w||^2 (pFedMe: 15)")
    public static let innerSteps = ParameterKey.int(
        "inner_steps", default: 5, min: 1, doc: "K, gradient steps solving the inner problem per mini-batch (pFedMe: 5)"
    )
    public static let personalLearningRate = ParameterKey.double(
        "personal_lr", default: 0.01, min: 0, minExclusive: true,
        doc: "step size of the inner steps on theta (PFLlib's default; the paper tunes it per dataset)")

    public let lambda: Double
    public let innerSteps: Int
    public let personalLearningRate: Double

    public init(parameters p: Parameters) throws {
        lambda = p[Self.lambda]
        innerSteps = p[Self.innerSteps]
        personalLearningRate = p[Self.personalLearningRate]
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        let theta = model.parameters
        let local = try withoutGrad { try theta.map { try $0.clone() } }
        let lr = context.settings.learningRate
        var steps = 0, lastLoss = 0.0
        for epoch in 0..<(context.data.count > 0 ? context.settings.epochs : 0) {
            var total = 0.0, batches = 0
            for batch in try context.data.shuffledBatches(
                size: context.settings.batchSize, dropLast: context.settings.dropLast, generator: context.generator)
            {
                let inputs = try context.augmentation?.apply(batch.inputs, generator: context.generator) ?? batch.inputs
                var value = 0.0
                for _ in 0..<innerSteps {
                    for p in theta { try p.zeroGrad() }
                    let loss = try Loss.crossEntropy(model.forward(inputs), targets: batch.labels)
                    value = try loss.item()
                    guard value.isFinite else {
                        throw PluginError(
                            "loss became \(value.isNaN ? "nan" : "inf") at epoch \(epoch + 1), step \(batches + 1)")
                    }
                    try loss.backward()
                    try withoutGrad {
                        for (p, w) in zip(theta, local) {
                            guard let g = p.grad else { continue }
                            // theta - plr (g + lambda (theta - w))
                            try p.mul_(1 - personalLearningRate * lambda)
                            try p.add_(g, alpha: -personalLearningRate)
                            try p.add_(w, alpha: personalLearningRate * lambda)
                        }
                    }
                }
                try withoutGrad {
                    // w <- w - lr lambda (w - theta)
                    for (w, p) in zip(local, theta) {
                        try w.mul_(1 - lr * lambda)
                        try w.add_(p, alpha: lr * lambda)
                    }
                }
                total += value
                batches += 1
            }
            steps += batches
            lastLoss = total / Double(max(1, batches))
        }
        for p in theta { try p.zeroGrad() }
        let personal = try model.stateDict().copy()
        try withoutGrad { for (p, w) in zip(theta, local) { try p.copy_(w) } }
        return LocalTrainingReport(trainLoss: lastLoss, steps: steps, personal: personal)
    }
}
