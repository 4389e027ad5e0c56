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

    public init(federation: Parameters, evaluation: Parameters, clients: Int) {
        rounds = federation.int("rounds")
        let fraction = federation.double("fraction")
        let perRound = federation.optionalInt("clients_per_round") ?? Int((fraction * Double(clients)).rounded())
        clientsPerRound = min(clients, max(1, perRound))
        local = LocalHyperparameters(epochs: federation.int("local_epochs"), batchSize: federation.int("batch_size"),
                                     learningRate: federation.double("lr"), momentum: federation.double("momentum"),
                                     weightDecay: federation.double("weight_decay"))
        workers = federation.int("workers")
        threadsPerWorker = federation.int("threads_per_worker")
        evalEvery = federation.int("eval_every")
        evalBatchSize = evaluation.int("batch_size")
        lastRounds = evaluation.int("last_rounds")
        finetuneEpochs = evaluation.int("finetune_epochs")
    }

    /// Whether round `r` (1-based) is evaluated.
    public func evaluates(round r: Int) -> Bool { r % evalEvery == 0 || r == rounds }
}
