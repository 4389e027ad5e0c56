import Torch

/// What a model's input is.
public enum InputKind: Sendable, Equatable {
    /// Float32 features or images; generators produce samples in this space.
    case continuous
    /// Int64 token ids over a vocabulary; generators produce embedding vectors instead.
    case tokens(vocabulary: Int)
}

/// A loaded benchmark: train and test data plus what models and partitioners need to know.
public struct DatasetSplits: @unchecked Sendable {
    public var name: String
    public var train: LabeledSamples
    public var test: LabeledSamples
    public var classes: Int
    /// Shape of one sample, e.g. [3, 32, 32] or [25] (token ids).
    public var inputShape: [Int]
    public var inputKind: InputKind
    /// Natural user (writer) id of each training / test sample, for LEAF data.
    public var trainUsers: [String]?
    public var testUsers: [String]?
    /// Optional per-batch training augmentation (random crop, flip).
    public var augmentation: (any Augmentation)?
    /// A stable digest of the data, for manifests and the partition cache.
    public var contentHash: String
    /// Pre-trained word vectors for token datasets (e.g. GloVe for sent140), nil otherwise.
    public var pretrainedEmbedding: PretrainedEmbedding?
    /// For image datasets read from pixels: how a pixel value in [0, 1] becomes a model input,
    /// (x - mean) / std per channel (mean 0 and std 1 when the dataset does not normalise); nil
    /// for other data. Server steps that make images the way a dataset's pipeline does (FedBKD's
    /// published generator) read it.
    public var pixelScaling: ImageStatistics?

    public init(
        name: String, train: LabeledSamples, test: LabeledSamples, classes: Int, inputShape: [Int],
        inputKind: InputKind = .continuous, trainUsers: [String]? = nil, testUsers: [String]? = nil,
        augmentation: (any Augmentation)? = nil, pixelScaling: ImageStatistics? = nil, contentHash: String
    ) {
        self.name = name
        self.train = train
        self.test = test
        self.classes = classes
        self.inputShape = inputShape
        self.inputKind = inputKind
        self.trainUsers = trainUsers
        self.testUsers = testUsers
        self.augmentation = augmentation
        self.pixelScaling = pixelScaling
        self.contentHash = contentHash
    }
}

/// A seeded transformation of a training batch (applied by trainers, never at test time).
public protocol Augmentation: Sendable {
    func apply(_ batch: Tensor, generator: RandomGenerator) throws -> Tensor
}
