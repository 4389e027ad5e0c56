import FedKit
import Torch

/// The CIFAR-10 CNN of the FedAvg / FedRep / FedBKD experiments:
/// conv(3->64, 5) - ReLU - pool 2 - conv(64->64, 5) - ReLU - pool 2 - flatten -
/// fc 1600->120 - ReLU - fc 120->64 - ReLU | head: fc 64->classes.
/// The flattened size follows the image size (1600 for 32x32 inputs).
public struct CIFAR10CNN: ModelPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .model, name: "cnn-cifar10",
        summary: "CNN for 32x32 colour images: conv 64-conv 64-fc 120-fc 64 | head fc ->classes (FedRep/FedBKD CIFAR-10)")

    public init(parameters: Parameters) throws {}

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        let name = Self.descriptor.name
        let image = try ModelInputChecks.image(input, model: name, channels: 3,
                                               hint: "use cnn-fmnist or mlp for grey images")
        let out = try ModelInputChecks.convBlocksOutput((image.height, image.width), blocks: 2, kernel: 5, padding: 0,
                                                        model: name, shape: input.inputShape)
        let g = generator
        let body: [any Layer] = [
            try Conv2d(3, 64, kernel: 5, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
            try Conv2d(64, 64, kernel: 5, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
            Flatten(),
            try Linear(64 * out.height * out.width, 120, generator: g), Activation.relu,
            try Linear(120, 64, generator: g), Activation.relu,
        ]
        return Network(body: body, head: [try Linear(64, input.classes, generator: g)], generator: g)
    }
}
