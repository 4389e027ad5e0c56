import FedKit
import Torch

/// The FEMNIST MLP of the FedRep experiments: flatten - fc 784->512 - ReLU - fc 512->256 -
/// ReLU - fc 256->64 - ReLU | head: fc 64->classes. Inputs of any shape are flattened first
/// ([1, 28, 28] and [784] both give 784 features); a dropout layer follows each hidden ReLU
/// (probability 0 by default, as in FedRep, where it is `Dropout(0)`).
public struct FEMNISTMLP: ModelPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .model, name: "mlp-femnist",
        summary: "MLP 784-512-256-64 | head fc ->classes, inputs flattened (FedRep FEMNIST)",
        keys: [dropout])

    public static let dropout = ParameterKey.double(
        "dropout", default: 0, min: 0, max: 0.99, doc: "dropout probability after each hidden layer")

    public let dropout: Double

    public init(parameters p: Parameters) throws {
        dropout = p[Self.dropout]
    }

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        try ModelInputChecks.requireContinuous(
            input, model: Self.descriptor.name,
            hint: "use lstm-sent140 for token data")
        return try MLP.network(
            inputs: ModelInputChecks.flatFeatures(input), hidden: [512, 256, 64],
            classes: input.classes, dropout: dropout, generator: generator)
    }
}
