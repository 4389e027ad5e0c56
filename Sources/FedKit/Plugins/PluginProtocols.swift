import Torch

/// Loads a benchmark's train and test data.
///
/// ### When it is called
/// `requiredFiles()` by `exp validate` (no data is read); `load()` once per experiment, before
/// any run, on the main thread. The result is shared, read-only, by every method and seed.
///
/// ### What it may do
/// Read files, decode, normalise. Everything random (a synthetic dataset) comes from the plugin's
/// own declared `seed`, never from the experiment's seeds: every method sees the same data.
///
/// ### What it may keep
/// Its validated parameters only; the loaded data belongs to the engine once returned.
///
/// ### What it returns
/// `DatasetSplits`: training and test samples, the class count, natural users when the data has
/// them, and a content hash of the raw bytes (it keys the partition cache and the manifest).
///
/// ### Errors
/// A missing file: a `PluginError` naming the path and how to get it (`RequiredFile.hint`). A
/// corrupt file: the path and the byte offset where reading failed. Either stops the experiment
/// before any run starts.
public protocol DatasetPlugin: Plugin {
    /// Files that must exist before loading; `exp validate` checks them without loading.
    func requiredFiles() -> [RequiredFile]
    /// Reads the data (errors name the file and, for corrupt files, the byte offset).
    func load() throws -> DatasetSplits
}

/// Splits training-sample indices over clients.
///
/// ### When it is called
/// Once per seed, before the seed's runs, on the main thread; the result is cached per
/// (dataset, partitioner, parameters, seed), so every method of a seed trains on the same split.
///
/// ### What it may do
/// Draw from `random` only (a stream derived from the seed). It must terminate for every valid
/// input: no rejection loops without a bound (see `dirichlet`'s deterministic repair).
///
/// ### What it may keep
/// Nothing between calls: the same request and stream must give the same split.
///
/// ### What it returns
/// Per client, the indices of its training samples (the engine carves test and validation
/// splits from them as `eval` says).
///
/// ### Errors
/// An impossible request (more clients than samples, `clients x min_size > N`): a `PluginError`
/// saying which parameter to change. It fails the seed's runs.
public protocol PartitionerPlugin: Plugin {
    /// Returns, for each client, the indices of its training samples; every index in
    /// `0..<request.labels.count` at most once.
    func partition(_ request: PartitionRequest, random: inout SplitMix64) throws -> [[Int]]
}

/// Builds a network with a declared body/head split.
///
/// ### When it is called
/// Once per run for the global model (with a generator seeded from the seed alone, so every
/// method of a seed starts from the same weights) and once per worker for its scratch models.
/// Calls may come from several threads at once; `build` must not share mutable state.
///
/// ### What it may keep
/// Nothing: each call builds an independent network (initial weights from `generator` only).
///
/// ### What it must return
/// A `Network` whose `body` produces the features and whose `head` maps them to logits over
/// `input.classes`. State names start with `body.` or `head.`: aggregators (`scope: body`) and
/// methods that keep a personal head rely on that split.
///
/// ### Errors
/// An input the model cannot take (colour images for a grey-scale CNN): a `PluginError` saying
/// which model fits; `exp validate` cannot see it, the run fails before round 1.
public protocol ModelPlugin: Plugin {
    /// A fresh network for `input` (shape and class count), its weights drawn from `generator`.
    func build(_ input: ModelInput, generator: RandomGenerator) throws -> Network
}

/// One client's local update.
///
/// ### When it is called
/// Once per sampled client per round, on a worker thread; several clients train at the same time
/// on different workers, each with its own `ClientTrainingContext`. The same plugin instance
/// serves every client of a run: keep no per-client state in it (personal state goes in the
/// returned report; state carried across rounds adopts `RoundCarriedState`).
///
/// ### What it may do
/// Train `context.model` in place (it arrives loaded with the method's start state, in training
/// mode) and use `context.scratch` as a second network. `LocalLoop.run` is the epoch/batch loop
/// the built-in trainers share. Randomness comes from `context.generator` only.
///
/// ### What it returns
/// A `LocalTrainingReport`: the training loss and step count, and — only for a trainer that
/// trains a separate personal model (Ditto) — that model as `personal`. The engine decides where
/// things go: the model's state after `train` returns is the client's update for aggregation, and
/// the client's stored personal state is `report.personal` when set, else the part of the trained
/// model the method's `personal` key names.
///
/// ### Errors
/// A thrown error fails the run, naming the method, seed, round and client. A loss that becomes
/// NaN or infinite should throw (`LocalLoop` does); non-finite weights are caught by the engine.
public protocol TrainerPlugin: Plugin {
    /// Trains one client in `context.model` and reports what the engine needs (see above).
    func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport
}

/// Combines client updates into the global model.
///
/// ### When it is called
/// Once per round on the main thread, after every sampled client has trained, with their updates
/// in client order. Not called at all when `updatesGlobalModel` is false.
///
/// ### What it may do
/// Read `global` (the round's global model, which it must not modify) and the updates; return
/// the new values. The engine writes them into the live global model and checks they are finite.
///
/// ### What it may keep
/// Nothing for a plain average. Server state across rounds (SCAFFOLD's control variate, L2GD's
/// coin runs) makes it a class adopting `RoundPayloadSource` and `RoundCarriedState`, so that the
/// state reaches the clients and is checkpointed for exact resume.
///
/// ### What it returns
/// An `AggregationResult`: the new values of the entries it changes (`.unchanged` for none) and
/// round metrics, which go under `server` in rounds.jsonl.
///
/// ### Errors
/// Updates that do not fit the global model, or weights that make no sense (no samples at all):
/// a `PluginError` naming the client; it fails the run at that round.
public protocol AggregatorPlugin: Plugin {
    /// Whether the global model changes at all (false for `none`: local-only training).
    var updatesGlobalModel: Bool { get }
    /// The new global values computed from `updates`: entries of `global` (all of them, or the
    /// subset it changes, e.g. `communicated(global)`), plus optional round metrics.
    func aggregate(_ updates: [ClientUpdate], global: StateDict) throws -> AggregationResult
    /// The part of the model exchanged with clients each round (for the bytes-up/down metric).
    func communicated(_ state: StateDict) -> StateDict
}

/// What an aggregator returns: the new values of the global entries it changes, and metrics for
/// the round record.
public struct AggregationResult: @unchecked Sendable {
    /// New values by entry name; entries of the global model not listed keep their values.
    public var state: StateDict
    /// Round metrics (reported under `server` in rounds.jsonl), e.g. "aggregate.trimmed": 2.
    public var metrics: [String: Double]

    public init(state: StateDict, metrics: [String: Double] = [:]) {
        self.state = state
        self.metrics = metrics
    }

    /// The global model does not change.
    public static var unchanged: AggregationResult { AggregationResult(state: StateDict([])) }
}

/// Server-side synthetic-data generator, trained without client data.
///
/// ### When it is called
/// Once per round on the main thread, after aggregation: `train` against the frozen teachers in
/// the `ServerRoundContext`, then `sample` as often as the distiller asks. One instance lives for
/// a run (method x seed); a generator that warm-starts across rounds adopts `RoundCarriedState`.
/// A distiller may train it again within its round (FedFTG's `iterations`) with the same context,
/// whose `global` the distiller has been training meanwhile.
///
/// ### What it may do
/// Read the teachers (load them into `context.workspace`; their weights stay frozen) and run
/// `context.global` (gradient flags and training mode it toggles are restored before returning);
/// never client data. Randomness comes from `context.generator` and the generator passed to
/// `sample`. It changes nothing of the engine's: the context is read-only input.
///
/// ### What it may keep
/// Its own network, optimiser and fixed inputs across rounds, all of it exposed through
/// `RoundCarriedState` so that a resumed run continues exactly.
///
/// ### What it returns
/// `train` returns a `GeneratorTrainingResult`: round metrics (`generator.*`), which go under
/// `server` in rounds.jsonl. `sample` returns inputs of shape [N] + the sample space
/// (`SampleSpace.shape`), which the distiller checks.
///
/// ### Errors
/// A thrown error fails the run at that round ("server step failed: ...").
public protocol GeneratorPlugin: Plugin {
    /// Trains the generator for this round against the frozen teachers in `context`; returns
    /// the round's metrics.
    func train(_ context: ServerRoundContext) throws -> GeneratorTrainingResult
    /// Synthetic inputs for the given int64 class labels [N] (in the model's input or embedded space).
    func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor
    /// Whether `sample` gives model inputs (true by default). A generator of another space
    /// (FedGen's feature generator) returns false: no distiller can feed its samples to a whole
    /// model and the engine compares no sample statistics with the real inputs; its generator
    /// reaches the clients as a round payload (`RoundPayloadSource`) instead.
    var samplesModelInputs: Bool { get }
}

/// What a generator's round of training returns: metrics for the round record.
public struct GeneratorTrainingResult: Sendable, Equatable {
    /// Round metrics (reported under `server` in rounds.jsonl), e.g. "generator.ce": 0.4.
    public var metrics: [String: Double]

    public init(metrics: [String: Double] = [:]) {
        self.metrics = metrics
    }
}

extension GeneratorPlugin {
    public var samplesModelInputs: Bool { true }
}

/// Moves knowledge between the global and the client models on (synthetic) data.
///
/// ### When it is called
/// Once per round on the main thread, after aggregation (and the generator's training), with the
/// generator as `source`, or Gaussian noise in the models' sample space when the method has no
/// generator (an ablation).
///
/// ### What it may do
/// Train `context.global` — the server's copy of the aggregated global model, its student — and
/// the `workspace` networks; run the teachers; train the generator again (`GeneratorSource`).
/// Nothing it does reaches the engine except what it returns: the context is read-only input,
/// and the live global model is not in it.
///
/// ### What it may keep
/// Nothing across rounds (a distiller with state would adopt `RoundCarriedState`): the built-in
/// ones read everything they need from the context each round.
///
/// ### What it returns
/// A `DistillationResult`: the new values of the global entries it changed (the engine checks
/// they are finite and loads them into the global model), the clients' models after distillation
/// by client (the engine keeps them for `personal: model`, or evaluates them this round only
/// for `evaluate_with: round-output`; a sampled client not listed keeps its teacher state), and
/// round metrics, which go under `server` in rounds.jsonl.
///
/// ### Errors
/// A thrown error fails the run at that round ("server step failed: ..."); the global model
/// stays as aggregated.
public protocol DistillerPlugin: Plugin {
    /// One round of distillation between `context.global` and `context.teachers` on samples
    /// drawn from `source`; returns what changed (see above).
    func distill(_ context: ServerRoundContext, source: any SyntheticDataSource) throws -> DistillationResult
}

/// What a distiller returns: the global entries it changed, the clients' distilled models, and
/// metrics for the round record.
public struct DistillationResult: @unchecked Sendable {
    /// New values by entry name of the global model; entries not listed keep their values
    /// (empty: the global model does not change). The engine copies them before the round ends.
    public var global: StateDict
    /// The sampled clients' models after distillation (global -> local students), by client
    /// index (`Teacher.client`); a sampled client not listed keeps its teacher state. Only
    /// clients of the round's teachers may be listed.
    public var personal: [Int: StateDict]
    /// Round metrics (reported under `server` in rounds.jsonl), e.g. "distill.kl_first_step": 0.3.
    public var metrics: [String: Double]

    public init(global: StateDict = StateDict([]), personal: [Int: StateDict] = [:], metrics: [String: Double] = [:]) {
        self.global = global
        self.personal = personal
        self.metrics = metrics
    }

    /// Nothing changes and nothing is reported.
    public static var unchanged: DistillationResult { DistillationResult() }

    /// The model `teacher`'s client has after distillation: the one listed in `personal`, else
    /// the teacher's own state.
    public func personalState(for teacher: Teacher) -> StateDict { personal[teacher.client] ?? teacher.state }
}

/// A file a dataset needs, with where users get it.
public struct RequiredFile: Sendable, Equatable {
    public var path: String
    public var hint: String
    public init(path: String, hint: String) {
        self.path = path
        self.hint = hint
    }
}

extension AggregatorPlugin {
    /// The default: the whole state (none when the global model never changes).
    public func communicated(_ state: StateDict) -> StateDict { updatesGlobalModel ? state : StateDict([]) }
}

/// A partitioner whose split is given as data (`from-file`): it declares the pool its indices
/// refer to and may give each client its own test indices (docs/datasets.md, "Partition files").
/// `FederatedData` builds the pool and the clients from `partitionFile(poolSizes:)` instead of
/// calling `partition(_:random:)`.
public protocol PartitionFileSource: PartitionerPlugin {
    /// The checked file. `poolSizes` are the dataset's training and test set sizes.
    func partitionFile(trainCount: Int, testCount: Int) throws -> PartitionFile
}
