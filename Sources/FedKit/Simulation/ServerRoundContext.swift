import Torch

/// A frozen client model that teaches on the server (FedBKD's generator and distillation).
public struct Teacher: @unchecked Sendable {
    public var client: Int
    /// The client's personal model after local training.
    public var state: StateDict
    /// Training samples per class (a teacher speaks only for classes it has seen).
    public var classCounts: [Int]

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
/// `global` is the live global model: a distiller may update it in place (the engine checks it
/// for NaN afterwards). `workspace` networks belong to the engine's workers, idle during server
/// steps: load states into them, and keep no reference after the round. `teachers` hold the
/// sampled clients' states (snapshots).
///
/// ### What the engine reads back
/// `global` (as it is after the steps), `teachers[i].state` (stored back as client i's personal
/// model when the method keeps whole personal models) and `metrics` (the round record's
/// `server` entries, beside the aggregator's).
public final class ServerRoundContext: @unchecked Sendable {
    public let round: Int
    /// The live global model (after aggregation); a distiller may update it.
    public let global: Network
    /// Network instances of the same architecture for teachers / students (load states into them).
    public let workspace: [Network]
    /// The sampled clients' models. A distiller may replace `state` (the personal model after
    /// global-to-local distillation); the engine stores it back for `personal: model`, or, with
    /// `evaluate_with: round-output`, only evaluates it this round (never stores it).
    public var teachers: [Teacher]
    public let classes: Int
    public let inputShape: [Int]
    public let inputKind: InputKind
    /// Seeded for this round's server steps.
    public let generator: RandomGenerator
    /// The federation's local mini-batch size (FedBKD's distillation batch is a multiple of it);
    /// nil when the round is built outside a federation (tests).
    public let localBatchSize: Int?
    /// Metrics the steps report for this round (e.g. "generator.loss", "distill.kl_before").
    public var metrics: [String: Double] = [:]

    public init(
        round: Int, global: Network, workspace: [Network], teachers: [Teacher], classes: Int,
        inputShape: [Int], inputKind: InputKind, generator: RandomGenerator, localBatchSize: Int? = nil
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
    }
}

/// Where a distiller draws its transfer samples (a trained generator, or plain noise for ablations).
public protocol SyntheticDataSource {
    /// Synthetic inputs for int64 labels [N].
    func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor
}
