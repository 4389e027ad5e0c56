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
    /// Clients that have trained at least once so far (after this round's local updates).
    public var participants: Int = 0
    /// Each scored client tested, with the model `evaluate_with` picks, on its own test split
    /// (docs/design.md §7). A client that has never trained is never scored when it would be tested with
    /// personal state (it has none); `evaluate_with: global` scores every client. `clients` is
    /// the number scored.
    public var personalized: PersonalizedAccuracy?
    /// The same figure over all clients: only when every client is scored (every client has a
    /// trained model, or the method is tested with the global model), else nil.
    public var personalizedAll: PersonalizedAccuracy? = nil
    /// The +FT variant (eval.finetune_epochs > 0), over all clients: each fine-tunes a copy first.
    public var personalizedFinetuned: PersonalizedAccuracy?
    /// The same figures on the validation splits (eval.validation_fraction > 0).
    public var validation: ValidationMetrics? = nil
    public var bytesUpPerClient: Int
    public var bytesDownPerClient: Int
    /// Server-step metrics (generator loss terms, teacher accuracy, distillation KL, ...).
    public var server: [String: Double]

    enum CodingKeys: String, CodingKey {
        case round
        case sampledClients = "sampled_clients"
        case trainLoss = "train_loss"
        case globalAccuracy = "global_accuracy"
        case participants
        case personalized
        case personalizedAll = "personalized_all"
        case personalizedFinetuned = "personalized_ft"
        case validation
        case bytesUpPerClient = "bytes_up_per_client"
        case bytesDownPerClient = "bytes_down_per_client"
        case server
    }
}

/// Validation figures of one evaluated round: what variants and hyperparameters are chosen on.
public struct ValidationMetrics: Codable, Sendable, Equatable {
    /// The global model on the global validation set (the union of the clients' validation
    /// splits); nil when the method has no global model.
    public var globalAccuracy: Double?
    /// The scored clients (as for the test figure) on their own validation splits; clients with
    /// an empty validation split are left out.
    public var personalized: PersonalizedAccuracy?

    public init(globalAccuracy: Double?, personalized: PersonalizedAccuracy?) {
        self.globalAccuracy = globalAccuracy
        self.personalized = personalized
    }

    enum CodingKeys: String, CodingKey {
        case globalAccuracy = "global_accuracy"
        case personalized
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
    /// Wall times that server steps report as metrics (names ending in `.seconds`, e.g.
    /// `generator.seconds`): moved here so that rounds.jsonl holds only reproducible values.
    public var serverSteps: [String: Double]? = nil

    enum CodingKeys: String, CodingKey {
        case round
        case serverSteps = "server_steps_s"
        case localSeconds = "local_s"
        case aggregateSeconds = "aggregate_s"
        case serverSeconds = "server_s"
        case evalSeconds = "eval_s"
        case totalSeconds = "total_s"
    }
}
