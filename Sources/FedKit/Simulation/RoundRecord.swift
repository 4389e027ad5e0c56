/// One line of rounds.jsonl: everything measured in a round except wall times, so that the
/// same file and seed give byte-identical records.
public struct RoundRecord: Codable, Sendable, Equatable {
    public var round: Int
    public var sampledClients: [Int]
    /// Sample-weighted mean of the sampled clients' last-epoch training losses.
    public var trainLoss: Double
    /// Accuracy of the global model on the whole test set (nil when not evaluated this round
    /// or when the method has no global model).
    public var globalAccuracy: Double?
    /// Every client's personal model on its own test split.
    public var personalized: PersonalizedAccuracy?
    /// The +FT variant (eval.finetune_epochs > 0).
    public var personalizedFinetuned: PersonalizedAccuracy?
    public var bytesUpPerClient: Int
    public var bytesDownPerClient: Int
    /// Server-step metrics (generator loss terms, teacher accuracy, distillation KL, ...).
    public var server: [String: Double]

    enum CodingKeys: String, CodingKey {
        case round
        case sampledClients = "sampled_clients"
        case trainLoss = "train_loss"
        case globalAccuracy = "global_accuracy"
        case personalized
        case personalizedFinetuned = "personalized_ft"
        case bytesUpPerClient = "bytes_up_per_client"
        case bytesDownPerClient = "bytes_down_per_client"
        case server
    }
}

/// Wall time of each phase of a round (timings.jsonl), kept apart from the deterministic records.
public struct RoundTiming: Codable, Sendable {
    public var round: Int
    public var localSeconds: Double
    public var aggregateSeconds: Double
    public var serverSeconds: Double
    public var evalSeconds: Double
    public var totalSeconds: Double

    enum CodingKeys: String, CodingKey {
        case round
        case localSeconds = "local_s"
        case aggregateSeconds = "aggregate_s"
        case serverSeconds = "server_s"
        case evalSeconds = "eval_s"
        case totalSeconds = "total_s"
    }
}
