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
        summary: "CNN for 32x32 colour images: conv 64-conv 128-fc 256-fc 128-dropout | head fc ->classes (FedRep/FedBKD CIFAR-100)",
        keys: [dropout])

    public static let dropout = ParameterKey.double(
        "dropout", default: 0.6, min: 0, max: 0.99,
        doc: "dropout probability after the last body layer (the features the head sees)")

    public let dropout: Double

    public init(parameters p: Parameters) throws {
        dropout = p[Self.dropout]
    }

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        let name = Self.descriptor.name
        let image = try ModelInputChecks.image(input, model: name, channels: 3,
                                               hint: "use cnn-fmnist or mlp for grey images")
        let out = try ModelInputChecks.convBlocksOutput((image.height, image.width), blocks: 2, kernel: 5, padding: 0,
                                                        model: name, shape: input.inputShape)
        let g = generator
        let body: [any Layer] = [
            try Conv2d(3, 64, kernel: 5, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
            try Conv2d(64, 128, kernel: 5, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
            Flatten(),
            try Linear(128 * out.height * out.width, 256, generator: g), Activation.relu,
            try Linear(256, 128, generator: g), Activation.relu,
            Dropout(dropout, generator: g),
        ]
        return Network(body: body, head: [try Linear(128, input.classes, generator: g)], generator: g)
    }
}
