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

    public init(federation: Parameters, evaluation: Parameters, clients: Int) {
        typealias F = Sections.Federation
        typealias E = Sections.Evaluation
        rounds = federation[F.rounds]
        let perRound = federation[F.clientsPerRound] ?? Int((federation[F.fraction] * Double(clients)).rounded())
        clientsPerRound = min(clients, max(1, perRound))
        local = LocalHyperparameters(
            epochs: federation[F.localEpochs], batchSize: federation[F.batchSize],
            learningRate: federation[F.learningRate], momentum: federation[F.momentum],
            weightDecay: federation[F.weightDecay])
        workers = federation[F.workers]
        threadsPerWorker = federation[F.threadsPerWorker]
        evalEvery = federation[F.evalEvery]
        stateMemoryBudget = federation[F.stateMemoryMB] << 20
        checkpointEvery = federation[F.checkpointEvery]
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
