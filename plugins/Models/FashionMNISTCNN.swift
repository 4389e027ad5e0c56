import FedKit
import Torch

/// A two-convolution CNN for small grey images (Fashion-MNIST, MNIST):
/// per entry of `channels`: conv(5x5, padding 2) - ReLU - pool 2; then flatten - fc ->hidden -
/// ReLU | head: fc hidden->classes.
///
/// The default ([16, 32] channels, 128 hidden; 28x28 input -> 1568 flattened, 215k parameters
/// with 10 classes) is half the width of the common conv 32-64 / fc 128 network (3136 flattened,
/// 455k parameters, about 3.7x the multiply-adds per sample), so the quick start stays a few
/// minutes on 2 cores. `channels: [32, 64]` gives the wider network.
public struct FashionMNISTCNN: ModelPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .model, name: "cnn-fmnist",
        summary: "CNN for 28x28 grey images: conv 16-conv 32 (5x5, pad 2, pool 2)-fc 128 | head fc ->classes",
        keys: [channels, hidden, dropout])

    public static let channels = ParameterKey.intList(
        "channels", default: [16, 32], min: 1,
        doc: "output channels of each conv block (conv 5x5 pad 2, ReLU, 2x2 max-pool); 1 to 3 blocks")
    public static let hidden = ParameterKey.int(
        "hidden", default: 128, min: 1, doc: "width of the fully connected layer before the head")
    public static let dropout = ParameterKey.double(
        "dropout", default: 0, min: 0, max: 0.99, doc: "dropout probability before the head")

    public let channels: [Int]
    public let hidden: Int
    public let dropout: Double

    public init(parameters p: Parameters) throws {
        channels = p[Self.channels]
        hidden = p[Self.hidden]
        dropout = p[Self.dropout]
    }

    /// The declaration checks each count (>= 1); the number of blocks is checked here.
    public func validate() throws {
        guard (1...3).contains(channels.count) else {
            throw PluginError("cnn-fmnist: channels must list 1 to 3 positive channel counts, got \(channels)")
        }
    }

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        let name = Self.descriptor.name
        let image = try ModelInputChecks.image(
            input, model: name, allowGrey: true,
            hint: "cnn-fmnist needs images such as [1, 28, 28]")
        let out = try ModelInputChecks.convBlocksOutput(
            (image.height, image.width), blocks: channels.count, kernel: 5,
            padding: 2, model: name, shape: input.inputShape)
        let g = generator
        var body: [any Layer] = input.inputShape.count == 2 ? [Reshape([1, image.height, image.width])] : []
        var inChannels = image.channels
        for c in channels {
            body += [
                try Conv2d(inChannels, c, kernel: 5, padding: 2, generator: g), Activation.relu,
                Pool2d(.max, kernel: 2),
            ]
            inChannels = c
        }
        body += [
            Flatten(), try Linear(inChannels * out.height * out.width, hidden, generator: g), Activation.relu,
            Dropout(dropout, generator: g),
        ]
        return Network(body: body, head: [try Linear(hidden, input.classes, generator: g)], generator: g)
    }
}
