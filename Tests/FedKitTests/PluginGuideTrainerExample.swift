import FedKit
import Torch

/// `body-only`: FedBABU's client update (Oh et al., "FedBABU: Towards Enhanced Representation
/// for Federated Image Classification", ICLR 2022). The head keeps its random initial weights
/// during federated training and only the body learns, so every client fits its features to the
/// same fixed classifier; personalisation fine-tunes the head afterwards (`eval.finetune_epochs`).
public struct BodyOnlyTrainer: TrainerPlugin {
    /// The parameter, declared once; absent means `federation.local_epochs`.
    public static let epochs = ParameterKey.optionalInt(
        "epochs", min: 0, doc: "local epochs training the body (default: federation.local_epochs)")

    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "body-only",
        summary: "local SGD on the body only, the head frozen at its initial weights (FedBABU)",
        keys: [epochs])

    public let epochs: Int?

    public init(parameters: Parameters) throws {
        epochs = parameters[Self.epochs]
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        // No gradients are computed for the head; it is unfrozen again for the worker's next client.
        let head = model.head.parameters
        for p in head { try p.requiringGrad(false) }
        defer { for p in head { _ = try? p.requiringGrad(true) } }
        let result = try LocalLoop.run(
            context, epochs: epochs ?? context.settings.epochs, parameters: model.body.parameters,
            loss: LocalLoop.crossEntropy(model))
        // The update is the trained model itself; the engine reads it after `train` returns.
        return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
    }
}
