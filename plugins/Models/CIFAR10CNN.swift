import FedKit
import Torch

/// The CIFAR-10 CNN of the FedAvg / FedRep / FedBKD experiments:
/// conv(3->64, 5) - ReLU - pool 2 - conv(64->64, 5) - ReLU - pool 2 - flatten -
/// fc 1600->120 - ReLU - fc 120->64 - ReLU | head: fc 64->classes - dropout 0.6.
/// As in FedRep's and FedBKD's `CNNCifar` (`x = self.drop(self.fc3(x))`), the dropout acts on
/// the logits while training (every method's local training and fine-tuning); evaluation,
/// teachers and distillation run the network in eval mode, without it. The flattened size
/// follows the image size (1600 for 32x32 inputs).
public struct CIFAR10CNN: ModelPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .model, name: "cnn-cifar10",
        summary:
            "CNN for 32x32 colour images: conv 64-conv 64-fc 120-fc 64 | head fc ->classes-dropout (FedRep/FedBKD CIFAR-10)",
        keys: [logitDropout])

    public static let logitDropout = ParameterKey.double(
        "logit_dropout", default: 0.6, min: 0, max: 0.99,
        doc: "dropout probability on the logits while training (FedRep's and FedBKD's CNNCifar: self.drop(self.fc3(x)))")

    public let logitDropout: Double

    public init(parameters p: Parameters) throws {
        logitDropout = p[Self.logitDropout]
    }

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        try CIFARConvNet(conv: (64, 64), hidden: (120, 64), dropout: nil, logitDropout: logitDropout)
            .build(input, model: Self.descriptor.name, generator: generator)
    }
}
