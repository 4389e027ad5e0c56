import FedKit
import Torch

/// The layout both CIFAR CNNs share (FedAvg's / FedRep's CIFAR networks): conv(3 -> c1, 5) -
/// ReLU - pool 2 - conv(c1 -> c2, 5) - ReLU - pool 2 - flatten - fc -> f1 - ReLU - fc f1 -> f2 -
/// ReLU [- dropout] | head: fc f2 -> classes [- dropout on the logits]. The flattened size follows
/// the image size.
struct CIFARConvNet {
    var conv: (Int, Int)
    var hidden: (Int, Int)
    /// Dropout after the last body layer (the features the head sees); nil: none.
    var dropout: Double?
    /// Dropout on the head's output (the logits) while training; nil or 0: none.
    var logitDropout: Double? = nil

    func build(_ input: ModelInput, model name: String, generator g: RandomGenerator) throws -> Network {
        let image = try ModelInputChecks.image(
            input, model: name, channels: 3, hint: "use cnn-fmnist or mlp for grey images")
        let out = try ModelInputChecks.convBlocksOutput(
            (image.height, image.width), blocks: 2, kernel: 5, padding: 0,
            model: name, shape: input.inputShape)
        var body: [any Layer] = [
            try Conv2d(3, conv.0, kernel: 5, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
            try Conv2d(conv.0, conv.1, kernel: 5, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
            Flatten(),
            try Linear(conv.1 * out.height * out.width, hidden.0, generator: g), Activation.relu,
            try Linear(hidden.0, hidden.1, generator: g), Activation.relu,
        ]
        if let dropout { body.append(Dropout(dropout, generator: g)) }
        var head: [any Layer] = [try Linear(hidden.1, input.classes, generator: g)]
        if let logitDropout, logitDropout > 0 { head.append(Dropout(logitDropout, generator: g)) }
        return Network(body: body, head: head, generator: g)
    }
}
