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

    public init(round: Int, global: Network, workspace: [Network], teachers: [Teacher], classes: Int,
                inputShape: [Int], inputKind: InputKind, generator: RandomGenerator, localBatchSize: Int? = nil) {
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
