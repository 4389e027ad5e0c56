import FedKit
import Foundation
import Torch

/// FedGen's client update (Zhu et al., "Data-Free Knowledge Distillation for Heterogeneous
/// Federated Learning", ICML 2021, the authors' `UserFedGen.train`).
///
/// The round's payload carries the server's feature generator G (`feature-generator`); without
/// one (round 1) this is plain local SGD. With G, each mini-batch (x, y) of B samples minimises
///
///     CE(f(x), y)
///       + alpha_t * CE(h(G(z', y')), y')                       (generative teacher term)
///       + beta_t  * KL(softmax(h(G(z, y))) || softmax(f(x)))    (latent matching term)
///
/// f = h o body the client's model, h its head, y' B labels drawn uniformly from the client's own
/// classes (`UserFedGen`: `available_labels`; `labels: federation`: in proportion to the whole
/// federation's training samples per class, which the generator then sends, as PFLlib's
/// `qualified_labels`), z, z' ~ U[0,1) fresh noise, G's output taken as
/// given (no gradient reaches G or, through the KL's target, the head), and
/// alpha_t = alpha * decay^(t-1), beta_t = beta * decay^(t-1) in round t (the authors'
/// `exp_lr_decay` of 0.98 per global iteration). G runs in eval mode, with the running
/// batch-norm statistics of its training on the server (`generator_mode: train`: in training
/// mode, with batch statistics, as PFLlib; for a batch of one label they remove the label from
/// G's input).
public struct FedGenTrainer: TrainerPlugin {
    public enum Labels: String, CaseIterable, Sendable { case own, federation }
    public enum GeneratorMode: String, CaseIterable, Sendable { case eval, train }

    public static let alpha = ParameterKey.double(
        "alpha", default: 10, min: 0,
        doc: "weight of the generative teacher term CE(h(G(z, y')), y') (FedGen RUNCONFIGS['mnist'] generative_alpha 10; PFLlib: 1)")
    public static let beta = ParameterKey.double(
        "beta", default: 10, min: 0,
        doc: "weight of the latent matching term KL(softmax(h(G(z, y))) || softmax(f(x))) (FedGen RUNCONFIGS['mnist'] generative_beta 10; PFLlib: 0, no such term)")
    public static let decay = ParameterKey.double(
        "decay", default: 0.98, min: 0, max: 1, minExclusive: true,
        doc: "alpha and beta are multiplied by decay^(round - 1) (FedGen `exp_lr_decay`, 0.98; 1: constant)")
    public static let labels = ParameterKey.choice(
        "labels", default: Labels.own,
        doc: "y' of the generative term: uniform over the client's own classes (own: FedGen) or in proportion to the federation's samples per class (federation: PFLlib; needs the generator's labels: federation)")
    public static let generatorMode = ParameterKey.choice(
        "generator_mode", default: GeneratorMode.eval,
        doc: "G's batch norm on the client: the server's running statistics (eval) or each batch's own (train: PFLlib)")

    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "fedgen",
        summary: "local SGD regularised by the server's feature generator: CE on generated features of the client's classes (FedGen)",
        keys: [alpha, beta, decay, labels, generatorMode])

    public let alpha: Double
    public let beta: Double
    public let decay: Double
    public let labelSource: Labels
    public let mode: GeneratorMode

    public init(parameters p: Parameters) throws {
        alpha = p[Self.alpha]
        beta = p[Self.beta]
        decay = p[Self.decay]
        labelSource = p[Self.labels]
        mode = p[Self.generatorMode]
    }

    /// The round's term weights (alpha_t, beta_t).
    public func weights(round: Int) -> (alpha: Double, beta: Double) {
        let factor = Foundation.pow(decay, Double(max(0, round - 1)))
        return (alpha * factor, beta * factor)
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        guard let generator = try FeatureGenerator(payload: context.payload) else {
            let result = try LocalLoop.run(context, epochs: context.settings.epochs, parameters: model.parameters,
                                           loss: LocalLoop.crossEntropy(model))
            return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
        }
        let draw = try labelDraw(context, classes: generator.classes)
        let (a, b) = weights(round: context.round)
        // Running batch-norm statistics by default: with batch statistics a batch of one label (a
        // client with one class) would lose the label (batch norm removes the batch mean of onehot(y)).
        generator.setTraining(mode == .train)
        let result = try LocalLoop.run(context, epochs: context.settings.epochs, parameters: model.parameters) { x, y in
            let features = try model.features(x)
            let logits = try model.head.forward(features)
            var loss = try Loss.crossEntropy(logits, targets: y)
            let n = y.shape[0]
            if b > 0 {
                // The head's view of generated features of the batch's own labels, as a fixed target.
                let target = try withoutGrad { try model.head.forward(generator.generate(labels: y, generator: context.generator)) }
                loss = try loss + Loss.distillationKL(student: logits, teacher: target) * b
            }
            if a > 0 {
                let sampled = try Tensor(draw(n))
                let generated = try withoutGrad { try generator.generate(labels: sampled, generator: context.generator) }
                loss = try loss + Loss.crossEntropy(model.head.forward(generated), targets: sampled) * a
            }
            return loss
        }
        return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
    }

    /// How the generative term draws its n labels y'.
    func labelDraw(_ context: ClientTrainingContext, classes: Int) throws -> (Int) throws -> [Int] {
        switch labelSource {
        case .own:
            let counts = context.data.classCounts(classes: classes)
            let available = counts.indices.filter { counts[$0] > 0 }
            guard !available.isEmpty else {
                throw PluginError("fedgen: the client's labels lie outside the generator's \(classes) classes")
            }
            return { n in
                try Tensor.rand([n], generator: context.generator).floats()
                    .map { available[min(available.count - 1, Int($0 * Float(available.count)))] }
            }
        case .federation:
            guard let counts = try FeatureGenerator.labelCounts(payload: context.payload) else {
                throw PluginError("fedgen: labels: federation needs the federation's samples per class in the round's payload; set the generator's labels: federation")
            }
            let probabilities = (0..<classes).map { $0 < counts.count ? Double(counts[$0]) : 0 }
            return { n in try LabelDraw.draw(n, probabilities: probabilities, generator: context.generator) }
        }
    }
}
