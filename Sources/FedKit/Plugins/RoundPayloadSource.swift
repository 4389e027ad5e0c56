import Torch

/// What a server-side plugin learns about the federation before the first round.
public struct FederationFacts: Sendable {
    /// Number of clients in the federation (N; the sampled ones are a subset each round).
    public var clients: Int
    /// The run's seed; a plugin derives its own streams from it (`Seeds.stream(seed, "<purpose>", round)`).
    public var seed: UInt64
    /// The initial global model (names and shapes; values are the common initial weights).
    public var global: StateDict
    /// The clients' local SGD learning rate (`federation.lr`), for server steps defined through it
    /// (L2GD's averaging step lr * lambda / p).
    public var localLearningRate: Double
    /// The federation's training samples per class (sum over all clients; empty when unknown).
    public var classCounts: [Int]
    /// The width of the model body's flat output, the head's input (nil when the features are not flat).
    public var featureWidth: Int?

    public init(
        clients: Int, seed: UInt64, global: StateDict, localLearningRate: Double, classCounts: [Int] = [],
        featureWidth: Int? = nil
    ) {
        self.clients = clients
        self.seed = seed
        self.global = global
        self.localLearningRate = localLearningRate
        self.classCounts = classCounts
        self.featureWidth = featureWidth
    }
}

/// A server plugin (aggregator, generator or distiller) that keeps server state across rounds and
/// sends every sampled client a payload with the round, besides the global model (SCAFFOLD's
/// server control variate c; L2GD's server-drawn number of local steps; FedGen's feature
/// generator). The engine sends the entries of every such plugin of the method together (their
/// names must differ). Trainers read it as `context.payload`; what clients send
/// back besides their model is `LocalTrainingReport.upload`, which the aggregator reads as `ClientUpdate.upload`.
/// The instance lives for one run (method x seed); adopt `RoundCarriedState` too, so that its
/// state is checkpointed.
public protocol RoundPayloadSource: AnyObject {
    /// Called once before the first round.
    func start(_ federation: FederationFacts) throws
    /// The payload of round `round` (1-based), the same for every client of the round. Called once
    /// per round, before local training; an empty state sends nothing.
    func payload(round: Int) throws -> StateDict
}
