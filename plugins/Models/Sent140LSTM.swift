import FedKit
import Torch

/// The Sent140 sentiment model of the FedRep experiments: embedding(vocabulary, dim) -
/// LSTM(hidden 128, last step) - fc 128->10 - dropout 0.5 | head: fc 10->classes (2).
///
/// FedRep feeds 300-d pretrained GloVe vectors; this model learns its embedding and defaults
/// to 100 dimensions (3x cheaper on CPU; set `embedding_dim: 300` for the published size).
/// The embedding is the network's encoder layer (`encoderLayers = 1`), so generators can feed
/// sequences of embedding vectors [N, T, dim] through `forward(embedded:)`.
public struct Sent140LSTM: ModelPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .model, name: "lstm-sent140",
        summary: "embedding - LSTM 128 - fc 10 - dropout | head fc ->classes, for token sequences (FedRep Sent140)",
        keys: [embeddingDim, hidden, dropout])

    public static let embeddingDim = ParameterKey.int(
        "embedding_dim", default: 100, min: 1,
        doc:
            "embedding width (FedRep: 300, GloVe); ignored when the dataset supplies pre-trained vectors (sent140 `glove`), whose width is used"
    )
    public static let hidden = ParameterKey.int("hidden", default: 128, min: 1, doc: "LSTM hidden size")
    public static let dropout = ParameterKey.double(
        "dropout", default: 0.5, min: 0, max: 0.99, doc: "dropout probability before the head")

    public let embeddingDim: Int
    public let hidden: Int
    public let dropout: Double

    public init(parameters p: Parameters) throws {
        embeddingDim = p[Self.embeddingDim]
        hidden = p[Self.hidden]
        dropout = p[Self.dropout]
    }

    public func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network {
        let name = Self.descriptor.name
        try ModelInputChecks.requireClasses(input, model: name)
        guard case .tokens(let vocabulary) = input.inputKind, vocabulary >= 1 else {
            throw PluginError(
                "model \(name) needs token-id inputs with a vocabulary (e.g. sent140), but the dataset gives continuous inputs of shape \(ModelInputChecks.describe(input.inputShape)); use an mlp or cnn model"
            )
        }
        guard input.inputShape.count == 1, input.inputShape[0] >= 1 else {
            throw PluginError(
                "model \(name) expects token sequences [T], got inputs of shape \(ModelInputChecks.describe(input.inputShape))"
            )
        }
        let g = generator
        var dimension = embeddingDim
        if let vectors = input.pretrainedEmbedding?.weight {
            guard vectors.rank == 2, vectors.shape[0] == vocabulary else {
                throw PluginError(
                    "model \(name): pre-trained embedding has shape \(ModelInputChecks.describe(vectors.shape)), expected [\(vocabulary), dim]"
                )
            }
            dimension = vectors.shape[1]
        }
        let embedding = try Embedding(vocabulary: vocabulary, dimension: dimension, generator: g)
        if let vectors = input.pretrainedEmbedding?.weight {
            try withoutGrad { try embedding.weight.copy_(vectors) }
        }
        let body: [any Layer] = [
            embedding,
            try LSTM(inputs: dimension, hidden: hidden, generator: g),
            try Linear(hidden, 10, generator: g),
            Dropout(dropout, generator: g),
        ]
        return Network(body: body, head: [try Linear(10, input.classes, generator: g)], generator: g, encoderLayers: 1)
    }
}
