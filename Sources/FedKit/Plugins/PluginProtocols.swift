import Torch

/// Loads a benchmark's train and test data.
public protocol DatasetPlugin: Plugin {
    /// Files that must exist before loading; `exp validate` checks them without loading.
    func requiredFiles() -> [RequiredFile]
    /// Reads the data (errors name the file and, for corrupt files, the byte offset).
    func load() throws -> DatasetSplits
}

/// Splits training-sample indices over clients. Must terminate for every valid input.
public protocol PartitionerPlugin: Plugin {
    /// Returns, for each client, the indices of its training samples; every index in
    /// `0..<request.labels.count` at most once.
    func partition(_ request: PartitionRequest, random: inout SplitMix64) throws -> [[Int]]
}

/// Builds a network with a declared body/head split.
public protocol ModelPlugin: Plugin {
    func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network
}

/// One client's local update.
public protocol TrainerPlugin: Plugin {
    /// Trains `context.model` (already loaded with the start state) in place; may also set
    /// `context.personal` (e.g. Ditto's separately trained personal model).
    func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport
}

/// Combines client updates into the global model.
public protocol AggregatorPlugin: Plugin {
    /// Whether the global model changes at all (false for `none`: local-only training).
    var updatesGlobalModel: Bool { get }
    /// Writes the aggregate of `updates` into `global` (the live global model state) in place.
    func aggregate(into global: StateDict, updates: [ClientUpdate]) throws
    /// The part of the model exchanged with clients each round (for the bytes-up/down metric).
    func communicated(_ state: StateDict) -> StateDict
}

/// Server-side synthetic-data generator, trained without client data.
public protocol GeneratorPlugin: Plugin {
    /// Trains the generator for this round against the frozen teachers in `context`.
    func train(_ context: ServerRoundContext) throws
    /// Synthetic inputs for the given int64 class labels [N] (in the model's input or embedded space).
    func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor
}

/// Moves knowledge between the global and the client models on (synthetic) data.
public protocol DistillerPlugin: Plugin {
    func distill(_ context: ServerRoundContext, source: any SyntheticDataSource) throws
}

/// A file a dataset needs, with where users get it.
public struct RequiredFile: Sendable, Equatable {
    public var path: String
    public var hint: String
    public init(path: String, hint: String) {
        self.path = path
        self.hint = hint
    }
}

extension AggregatorPlugin {
    /// The default: the whole state (none when the global model never changes).
    public func communicated(_ state: StateDict) -> StateDict { updatesGlobalModel ? state : StateDict([]) }
}

/// A partitioner whose split is given as data (`from-file`): it declares the pool its indices
/// refer to and may give each client its own test indices (docs/datasets.md, "Partition files").
/// `FederatedData` builds the pool and the clients from `partitionFile(poolSizes:)` instead of
/// calling `partition(_:random:)`.
public protocol PartitionFileSource: PartitionerPlugin {
    /// The checked file. `poolSizes` are the dataset's training and test set sizes.
    func partitionFile(trainCount: Int, testCount: Int) throws -> PartitionFile
}
