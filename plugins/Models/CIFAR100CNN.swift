import FedKit
import Torch

/// The CIFAR-100 CNN of the FedRep / FedBKD experiments:
/// conv(3->64, 5) - ReLU - pool 2 - conv(64->128, 5) - ReLU - pool 2 - flatten -
/// fc 3200->256 - ReLU - fc 256->128 - ReLU - dropout | head: fc 128->classes.
/// As in FedRep's `CNNCifar100`, the dropout sits after the second fully connected layer
/// (the last body layer). The flattened size follows the image size (3200 for 32x32 inputs).
public struct CIFAR100CNN: ModelPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .model, name: "cnn-cifar100",
        summary:
            "CNN for 32x32 colour images: conv 64-conv 128-fc 256-fc 128-dropout | head fc ->classes (FedRep/FedBKD CIFAR-100)",
        keys: [dropout])

    public static let dropout = ParameterKey.double(
        "dropout", default: 0.6, min: 0, max: 0.99,
        doc: "dropout probability after the last body layer (the features the head sees)")

    public let dropout: Double

    public init(parameters p: Parameters) throws {
        dropout = p[Self.dropout]
    }

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        try CIFARConvNet(conv: (64, 128), hidden: (256, 128), dropout: dropout)
            .build(input, model: Self.descriptor.name, generator: generator)
    }
}
