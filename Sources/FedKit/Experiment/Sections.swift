/// Declarations of the experiment file's fixed sections. Like plugin parameters, these
/// drive validation, defaults and the YAML reference.
public enum Sections {
    /// The `federation` section's keys; read them as `spec.federation[Sections.Federation.rounds]`.
    public enum Federation {
        public static let rounds = ParameterKey.int("rounds", default: 100, min: 1, doc: "communication rounds")
        public static let fraction = ParameterKey.double(
            "fraction", default: 0.1, min: 0, max: 1, minExclusive: true,
            doc: "fraction of clients sampled each round (at least one client)")
        public static let clientsPerRound = ParameterKey.optionalInt(
            "clients_per_round", min: 1, doc: "clients sampled each round; overrides fraction when set")
        public static let localEpochs = ParameterKey.int(
            "local_epochs", default: 5, min: 1,
            doc: "local epochs per round (trainers may split them, see head-then-body)")
        public static let batchSize = ParameterKey.int("batch_size", default: 10, min: 1, doc: "local mini-batch size")
        public static let learningRate = ParameterKey.double(
            "lr", default: 0.01, min: 0, minExclusive: true, doc: "local SGD learning rate")
        public static let momentum = ParameterKey.double(
            "momentum", default: 0.5, min: 0, max: 0.999, doc: "local SGD momentum")
        public static let weightDecay = ParameterKey.double(
            "weight_decay", default: 1e-4, min: 0,
            doc: "local L2 weight decay, applied to weights only (not biases or norm parameters)")
        public static let dropLast = ParameterKey.bool(
            "drop_last", default: false,
            doc:
                "skip each local epoch's last, smaller mini-batch (PyTorch's DataLoader drop_last, which PFLlib uses); a client with fewer samples than batch_size then trains nothing"
        )
        public static let initSeed = ParameterKey.optionalInt(
            "init_seed", min: 0,
            doc:
                "seed of the torch generator that draws the initial global model, for every seed of the file when set (default: derived from each run seed, the same for every method of a seed); layers draw PyTorch's default initialisation on a torch CPU generator, so e.g. cnn-fmnist with init_seed S starts from exactly the weights its PyTorch twin gets after torch.manual_seed(S) (docs/results.md, issue 14): the way to start from another framework's initial model"
        )
        public static let workers = ParameterKey.int(
            "workers", default: 2, min: 1, max: 64, doc: "clients trained in parallel, each on its own model")
        public static let threadsPerWorker = ParameterKey.int(
            "threads_per_worker", default: 1, min: 1, max: 64, doc: "torch intra-op threads per worker")
        public static let evalEvery = ParameterKey.int(
            "eval_every", default: 1, min: 1, doc: "evaluate every N rounds (and always after the last round)")
        public static let checkpointEvery = ParameterKey.int(
            "checkpoint_every", default: 10, min: 1,
            doc:
                "write the run's checkpoint/ (global model, personal states, plugin state, records) every N rounds and after the last; `exp run --resume` continues from the latest one exactly"
        )
        public static let stateMemoryMB = ParameterKey.int(
            "state_memory_mb", default: 1024, min: 1,
            doc:
                "MiB of client personal state (heads, Ditto/FedBKD personal models) kept in memory; beyond it the least recently used states spill to the run folder's client-state/"
        )
        public static let batchedClients = ParameterKey<BatchedClients>(
            spec: ParameterSpec(
                "batched_clients", .intOrChoice(min: 1, choices: ["auto", "off"]), default: .string("off"),
                doc:
                    "train up to K clients of a round as one stacked computation (grouped convolutions, batched matrix products, one fused SGD step; the same results to float rounding, see docs/architecture.md): off trains each client alone (the default: on the 2-core CPU build stacking measured slower, docs/benchmarks.md), auto stacks 16 where the model and trainer support it (sgd, prox, head-then-body, ditto on the CNN and MLP models without active dropout), K sets the stack size; unsupported combinations always train unstacked"
            ),
            decode: { BatchedClients($0) }, encode: { $0.parameterValue })

        /// Every key, in the order `exp list` and docs/yaml-reference.md show them.
        public static let keys: [any ParameterDeclaration] = [
            rounds, fraction, clientsPerRound, localEpochs, batchSize, dropLast, learningRate, momentum, weightDecay,
            initSeed, workers,
            threadsPerWorker, batchedClients, evalEvery, checkpointEvery, stateMemoryMB,
        ]
    }

    /// The `eval` section's keys; read them as `spec.evaluation[Sections.Evaluation.localTest]`.
    public enum Evaluation {
        public static let localTest = ParameterKey.choice(
            "local_test", default: LocalTestMode.matched,
            doc:
                "each client's test split: drawn from the test set with its training label distribution (matched), a held-out fraction of its own data (holdout), its natural user's own test samples (natural; LEAF and PFLlib data), or its own test indices from a partition file (from-partition; partition: from-file)"
        )
        public static let holdoutFraction = ParameterKey.double(
            "holdout_fraction", default: 0.2, min: 0, max: 0.9, minExclusive: true,
            doc: "fraction of each client's data held out for testing when local_test is holdout")
        public static let matchedTestSize = ParameterKey.optionalInt(
            "matched_test_size", min: 1,
            doc:
                "test samples per client when local_test is matched (default: a quarter of its training size, at least 10)"
        )
        public static let validationFraction = ParameterKey.double(
            "validation_fraction", default: 0.1, min: 0, max: 0.5,
            doc:
                "fraction of each client's training data carved out (seeded, stratified by class) as its validation split, never trained on; the global validation set is their union. Per-round validation metrics go to rounds.jsonl and the summary; choose variants and hyperparameters on them. 0 disables"
        )
        public static let finetuneEpochs = ParameterKey.int(
            "finetune_epochs", default: 0, min: 0,
            doc:
                "when > 0, also report the +FT variant: each client fine-tunes a copy for this many epochs before testing"
        )
        public static let personalGlobalTest = ParameterKey.bool(
            "personal_global_test", default: false,
            doc:
                "after the last round, also test every client's personal model on the whole test set (clients.csv column global_test_accuracy; summary metrics personal_on_global_test_mean and _max): shows how much a personal model knows beyond its own classes"
        )
        public static let lastRounds = ParameterKey.int(
            "last_rounds", default: 10, min: 1, doc: "report the mean over the last N evaluations beside the final one")
        public static let batchSize = ParameterKey.int(
            "batch_size", default: 250, min: 1,
            doc:
                "evaluation batch size (no-grad forward passes); 250 keeps a small CNN's activations in cache: 1.6x the images/s of 1000 for cnn-fmnist on 2 cores (docs/benchmarks.md, \"Evaluation batch size\")"
        )

        /// Every key, in the order `exp list` and docs/yaml-reference.md show them.
        public static let keys: [any ParameterDeclaration] = [
            localTest, holdoutFraction, matchedTestSize, validationFraction, finetuneEpochs, personalGlobalTest,
            lastRounds, batchSize,
        ]
    }

    /// `federation`'s declarations.
    public static let federation: [ParameterSpec] = Federation.keys.map(\.spec)
    /// `eval`'s declarations.
    public static let evaluation: [ParameterSpec] = Evaluation.keys.map(\.spec)

    /// `partition.clients`: the number of clients (the partitioner's own parameters sit beside it).
    public static let clients = ParameterKey.int(
        "clients", default: 100, min: 1, doc: "number of clients (for natural: the maximum number of users kept)")
    /// Keys of the partition section besides the partitioner's own parameters.
    public static let partitionCommon: [ParameterSpec] = [clients.spec]

    /// `seeds`: each method runs once per seed.
    public static let seeds = ParameterKey.intList(
        "seeds", default: [1], min: 0,
        doc: "each method runs once per seed, on that seed's partition and initial weights; at least one, all distinct")
    /// `output`: the results folder.
    public static let output = ParameterKey.path("output", default: "runs", doc: "results folder")
    /// The top-level keys that hold a value (the others are sections, see `topLevelKeys`).
    public static let topLevel: [ParameterSpec] = [seeds.spec, output.spec]

    /// A method's `personal`: what a client keeps between rounds and is evaluated with.
    public static let personal = ParameterKey.choice(
        "personal", default: PersonalState.none,
        doc:
            "what a client keeps between rounds and is evaluated with: nothing (the global model), its own head on the global body, a whole personal model, or the entries the aggregator does not exchange (unshared: LG-FedAvg's lower layers)"
    )
    /// A method's `local_start`: where local training starts.
    public static let localStart = ParameterKey.optionalChoice(
        "local_start", LocalStart.self,
        doc:
            "where local training starts: the global model, the client's personal model, or the global body with the client's own head (default: global for personal none, global-body for head, personal for model and unshared)"
    )
    /// A method's `evaluate_with`: which model a client is tested with (docs/design.md §7).
    public static let evaluateWith = ParameterKey.optionalChoice(
        "evaluate_with", EvaluationModel.self,
        doc:
            "which model a client is tested with: the global model, its personal state, or (FedBKD as published) this round's server output for the sampled clients and the personal state for the others (default: personal when the method keeps personal state, else global)"
    )
    /// The method keys that hold a value (the others name plugins or the preset, see `methodKeys`).
    public static let method: [ParameterSpec] = [personal.spec, localStart.spec, evaluateWith.spec]

    public static let topLevelKeys = [
        "name", "seeds", "dataset", "partition", "model", "federation", "eval", "methods", "output", "sweep", "slurm",
    ]
    public static let methodKeys = [
        "name", "label", "summary", "trainer", "aggregator", "generator", "distiller", "personal", "local_start",
        "evaluate_with",
    ]
}
