import FedKit
import Torch

/// Plain local SGD (FedAvg's client update): `federation.local_epochs` epochs of mini-batch SGD
/// with the federation's batch size, learning rate, momentum and weight decay (weights only),
/// cross-entropy loss, the dataset's augmentation if any.
public struct SGDTrainer: TrainerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "sgd",
        summary: "local mini-batch SGD on cross-entropy for federation.local_epochs epochs (FedAvg)")

    public init(parameters: Parameters) throws {}

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        let result = try LocalLoop.run(
            context, epochs: context.settings.epochs, parameters: model.parameters,
            loss: LocalLoop.crossEntropy(model))
        return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
    }
}

extension SGDTrainer: StackedTrainer {
    public func train(_ stack: ClientStack) throws -> [LocalTrainingReport] {
        let network = stack.network
        return try StackedLocalLoop.run(stack, epochs: stack.settings.epochs, parameters: Array(network.parameters.indices),
                                        loss: StackedLocalLoop.crossEntropy(network))
            .map { LocalTrainingReport(trainLoss: $0.lastEpochLoss, steps: $0.steps) }
    }
}
