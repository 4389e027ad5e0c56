import Torch

/// What a model plugin needs to know about the data.
public struct ModelInput: Sendable, Equatable {
    public var inputShape: [Int]
    public var classes: Int
    public var inputKind: InputKind
    /// Pre-trained word vectors [vocabulary, dim] for token models (e.g. GloVe), if the dataset has them.
    public var pretrainedEmbedding: PretrainedEmbedding?

    public init(
        inputShape: [Int], classes: Int, inputKind: InputKind = .continuous,
        pretrainedEmbedding: PretrainedEmbedding? = nil
    ) {
        self.inputShape = inputShape
        self.classes = classes
        self.inputKind = inputKind
        self.pretrainedEmbedding = pretrainedEmbedding
    }

    /// What the models of a dataset get.
    public init(_ dataset: DatasetSplits) {
        self.init(
            inputShape: dataset.inputShape, classes: dataset.classes, inputKind: dataset.inputKind,
            pretrainedEmbedding: dataset.pretrainedEmbedding)
    }
}

/// Word vectors [vocabulary, dim] to initialise a model's embedding (compared by identity).
public final class PretrainedEmbedding: @unchecked Sendable, Equatable {
    public let weight: Tensor
    public init(_ weight: Tensor) { self.weight = weight }
    public static func == (a: PretrainedEmbedding, b: PretrainedEmbedding) -> Bool { a === b }
}
