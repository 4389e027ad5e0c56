/// The federation and evaluation settings of one run, read from the validated sections.
public struct RunSettings: Sendable {
    public var rounds: Int
    public var clientsPerRound: Int
    public var local: LocalHyperparameters
    public var workers: Int
    public var threadsPerWorker: Int
    public var evalEvery: Int
    public var evalBatchSize: Int
    public var lastRounds: Int
    public var finetuneEpochs: Int
    /// Test every client's personal model on the whole test set after the last round.
    public var personalGlobalTest: Bool
    /// Whether each client's test split is made of rows of the dataset's test set (`local_test`
    /// matched or natural; not holdout or from-partition). Then every client tested with the global model (or its
    /// body) is served by one pass of the global model over the test set.
    public var clientTestsFromTestSet: Bool
    /// Bytes of client personal state kept in memory before the least recently used states spill
    /// to the run folder (`federation.state_memory_mb`, 1 GiB by default; 1,000 personal
    /// cnn-cifar100 models are 4.3 GB).
    public var stateMemoryBudget: Int
    /// Rounds between checkpoints (`federation.checkpoint_every`; the last round is always saved).
    public var checkpointEvery: Int
    /// How many clients train as one stacked computation (`federation.batched_clients`).
    public var batchedClients: BatchedClients

    public init(federation: Parameters, evaluation: Parameters, clients: Int) {
        typealias F = Sections.Federation
        typealias E = Sections.Evaluation
        rounds = federation[F.rounds]
        let perRound = federation[F.clientsPerRound] ?? Int((federation[F.fraction] * Double(clients)).rounded())
        clientsPerRound = min(clients, max(1, perRound))
        local = LocalHyperparameters(
            epochs: federation[F.localEpochs], batchSize: federation[F.batchSize],
            learningRate: federation[F.learningRate], momentum: federation[F.momentum],
            weightDecay: federation[F.weightDecay], dropLast: federation[F.dropLast])
        workers = federation[F.workers]
        threadsPerWorker = federation[F.threadsPerWorker]
        evalEvery = federation[F.evalEvery]
        stateMemoryBudget = federation[F.stateMemoryMB] << 20
        checkpointEvery = federation[F.checkpointEvery]
        batchedClients = federation[F.batchedClients]
        evalBatchSize = evaluation[E.batchSize]
        lastRounds = evaluation[E.lastRounds]
        finetuneEpochs = evaluation[E.finetuneEpochs]
        personalGlobalTest = evaluation[E.personalGlobalTest]
        let localTest = evaluation[E.localTest]
        clientTestsFromTestSet = localTest != .holdout && localTest != .fromPartition
    }

    /// Whether round `r` (1-based) is evaluated.
    public func evaluates(round r: Int) -> Bool { r % evalEvery == 0 || r == rounds }
}

/// `federation.batched_clients`: whether and how many of a round's clients train as one stack
/// (`StackedNetwork`, `StackedTrainer`).
public enum BatchedClients: Sendable, Equatable {
    /// Stacks of `BatchedClients.autoSize` where the model and the trainer support stacking.
    case auto
    /// Every client trains alone.
    case off
    /// Stacks of at most this many clients where supported.
    case size(Int)

    /// The stack size `auto` uses. Fixed (not derived from the worker count), so that which
    /// clients share a stack, and hence every float, is the same for any number of workers.
    public static let autoSize = 16

    /// From the validated value (absent: off, the declared default).
    public init(_ value: ParameterValue?) {
        switch value {
        case .int(let k)?: self = .size(k)
        case .string("auto")?: self = .auto
        default: self = .off
        }
    }

    /// The value as written in the file (`auto`, `off` or K).
    public var parameterValue: ParameterValue {
        switch self {
        case .auto: return .string("auto")
        case .off: return .string("off")
        case .size(let k): return .int(k)
        }
    }

    /// The largest stack, nil when batching is off (a size of 1 is off too).
    public var maximumStack: Int? {
        switch self {
        case .auto: return Self.autoSize
        case .off: return nil
        case .size(let k): return k > 1 ? k : nil
        }
    }
}
