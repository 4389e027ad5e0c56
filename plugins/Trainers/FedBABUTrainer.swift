import FedKit
import Torch

/// FedBABU's client update (Oh, Kim & Yun, "FedBABU: Toward Enhanced Representation for
/// Federated Image Classification", ICLR 2022).
///
/// Training: the body alone, for `federation.local_epochs` epochs of SGD with the head frozen;
/// the head keeps its random initial weights for the whole federation (with `scope: body` the
/// server never changes it either).
/// Evaluation (`EvaluationComposition`): each client fine-tunes a copy of the global model on its
/// own training data for `finetune_epochs` epochs, the whole model (`finetune: full`, the paper's
/// personalisation and PFLlib's default) or the head alone (`head`), with the federation's SGD
/// settings, and is tested with the result. Nothing of the fine-tuning is kept.
public struct FedBABUTrainer: TrainerPlugin, EvaluationComposition {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "babu",
        summary: "train the body with the head frozen at its initial weights; fine-tune for evaluation (FedBABU)",
        keys: [finetuneEpochs, finetunePart])

    public static let finetuneEpochs = ParameterKey.int(
        "finetune_epochs", default: 5, min: 0,
        doc: "epochs each client fine-tunes a copy of the global model before it is tested (FedBABU: tau = 5)")
    public static let finetunePart = ParameterKey.choice(
        "finetune", default: FinetunePart.full,
        doc: "what the evaluation fine-tuning trains: the whole model (FedBABU's personalisation) or the head alone")

    /// What the evaluation fine-tuning trains.
    public enum FinetunePart: String, CaseIterable, Sendable {
        case full, head
    }

    public let finetuneEpochs: Int
    public let finetunePart: FinetunePart

    public init(parameters p: Parameters) throws {
        finetuneEpochs = p[Self.finetuneEpochs]
        finetunePart = p[Self.finetunePart]
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        let frozen = model.head.parameters
        for p in frozen { try p.requiringGrad(false) }
        defer { for p in frozen { _ = try? p.requiringGrad(true) } }
        let result = try LocalLoop.run(
            context, epochs: context.settings.epochs, parameters: model.body.parameters,
            phase: "body", loss: LocalLoop.crossEntropy(model))
        return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
    }

    public func composeEvaluationModel(_ context: ClientTrainingContext) throws {
        let model = context.model
        if finetunePart == .head {
            let frozen = model.body.parameters
            for p in frozen { try p.requiringGrad(false) }
            defer { for p in frozen { _ = try? p.requiringGrad(true) } }
            _ = try LocalLoop.run(
                context, epochs: finetuneEpochs, parameters: model.head.parameters, phase: "fine-tuning",
                loss: LocalLoop.crossEntropy(model))
        } else {
            _ = try LocalLoop.run(
                context, epochs: finetuneEpochs, parameters: model.parameters, phase: "fine-tuning",
                loss: LocalLoop.crossEntropy(model))
        }
    }
}
