import Torch

/// A frozen client model that teaches on the server (FedBKD's generator and distillation).
public struct Teacher: @unchecked Sendable {
    public let client: Int
    /// The client's personal model after local training.
    public let state: StateDict
    /// Training samples per class (a teacher speaks only for classes it has seen).
    public let classCounts: [Int]

    public init(client: Int, state: StateDict, classCounts: [Int]) {
        self.client = client
        self.state = state
        self.classCounts = classCounts
    }
}

/// What server-side steps (generator, distiller) see in a round. They never see client data.
///
/// ### Lifetime and threads
/// The engine creates one context per round, after aggregation, on the main thread, and passes
/// it to the generator's `train` and then to the distiller's `distill`; it is dropped when the
/// round's server steps end. Steps run one after another, never concurrently.
///
/// ### Ownership
/// The context is read-only input: a step changes the engine's state only through what it
/// returns (`GeneratorTrainingResult`, `DistillationResult`). `global` is the server's own
/// network, loaded with the aggregated global model before the steps: a distiller trains it as
/// its student, and the engine never reads it back (it loads the returned `global` entries into
/// the live global model, which no plugin holds). `workspace` networks belong to the engine's
/// workers, idle during server steps: load states into them, and keep no reference after the
/// round. `teachers` hold the sampled clients' states (snapshots).
public struct ServerRoundContext: @unchecked Sendable {
    public let round: Int
    /// A copy of the global model after aggregation, in a network of the server's own: the
    /// distiller's student (it may train it); generators only run it.
    public let global: Network
    /// Network instances of the same architecture for teachers / students (load states into them).
    public let workspace: [Network]
    /// The sampled clients' models, in sampled order: each client's model after local training
    /// (for `personal: model`, its stored personal model).
    public let teachers: [Teacher]
    public let classes: Int
    public let inputShape: [Int]
    public let inputKind: InputKind
    /// Seeded for this round's server steps.
    public let generator: RandomGenerator
    /// The federation's local mini-batch size (FedBKD's distillation batch is a multiple of it);
    /// nil when the round is built outside a federation (tests).
    public let localBatchSize: Int?
    /// For image datasets, how a pixel value in [0, 1] becomes a model input
    /// (`DatasetSplits.pixelScaling`); nil for other data.
    public let pixelScaling: ImageStatistics?

    public init(
        round: Int, global: Network, workspace: [Network], teachers: [Teacher], classes: Int,
        inputShape: [Int], inputKind: InputKind, generator: RandomGenerator, localBatchSize: Int? = nil,
        pixelScaling: ImageStatistics? = nil
    ) {
        self.round = round
        self.global = global
        self.workspace = workspace
        self.teachers = teachers
        self.classes = classes
        self.inputShape = inputShape
        self.inputKind = inputKind
        self.generator = generator
        self.localBatchSize = localBatchSize
        self.pixelScaling = pixelScaling
    }
}

/// Where a distiller draws its transfer samples (a trained generator, or plain noise for ablations).
public protocol SyntheticDataSource {
    /// Synthetic inputs for int64 labels [N].
    func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor
}
