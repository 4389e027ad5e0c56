import FedKit
import Torch

/// The CIFAR-10 CNN of the FedAvg / FedRep / FedBKD experiments:
/// conv(3->64, 5) - ReLU - pool 2 - conv(64->64, 5) - ReLU - pool 2 - flatten -
/// fc 1600->120 - ReLU - fc 120->64 - ReLU | head: fc 64->classes.
/// The flattened size follows the image size (1600 for 32x32 inputs).
public struct CIFAR10CNN: ModelPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .model, name: "cnn-cifar10",
        summary:
            "CNN for 32x32 colour images: conv 64-conv 64-fc 120-fc 64 | head fc ->classes (FedRep/FedBKD CIFAR-10)")

    public init(parameters: Parameters) throws {}

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        try CIFARConvNet(conv: (64, 64), hidden: (120, 64), dropout: nil)
            .build(input, model: Self.descriptor.name, generator: generator)
    }
}
