import FedKit
import Torch

/// A plain multi-layer perceptron: flatten - (fc - ReLU - dropout) per hidden size | head: fc
/// ->classes. `hidden: []` gives multinomial logistic regression (body = flatten only), the
/// model of FedProx's synthetic experiments; the default [200, 200] is FedAvg's MNIST "2NN".
public struct MLP: ModelPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .model, name: "mlp",
        summary: "MLP with configurable hidden sizes | head fc ->classes, inputs flattened",
        keys: [hidden, dropout])

    public static let hidden = ParameterKey.intList(
        "hidden", default: [200, 200], min: 1, doc: "hidden layer widths; [] gives logistic regression (the head alone)"
    )
    public static let dropout = ParameterKey.double(
        "dropout", default: 0, min: 0, max: 0.99, doc: "dropout probability after each hidden layer")

    public let hidden: [Int]
    public let dropout: Double

    public init(parameters p: Parameters) throws {
        hidden = p[Self.hidden]
        dropout = p[Self.dropout]
    }

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        try ModelInputChecks.requireContinuous(
            input, model: Self.descriptor.name, hint: "use lstm-sent140 for token data")
        return try Self.network(
            inputs: ModelInputChecks.flatFeatures(input), hidden: hidden, classes: input.classes,
            dropout: dropout, generator: generator)
    }

    /// flatten, then Linear - ReLU - Dropout per hidden width; the head is the final Linear.
    /// Dropout layers are always present (identity at p = 0) so state names do not depend on it.
    static func network(
        inputs: Int, hidden: [Int], classes: Int, dropout: Double,
        generator g: RandomGenerator
    ) throws -> Network {
        var body: [any Layer] = [Flatten()]
        var width = inputs
        for h in hidden {
            body += [try Linear(width, h, generator: g), Activation.relu, Dropout(dropout, generator: g)]
            width = h
        }
        return Network(body: body, head: [try Linear(width, classes, generator: g)], generator: g)
    }
}
