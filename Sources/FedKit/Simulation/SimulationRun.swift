import Foundation
import Torch

/// One method on one seed: the round loop of docs/design.md §5.
public final class SimulationRun: @unchecked Sendable {
    public let method: MethodSpec
    public let seed: Int
    public let settings: RunSettings
    let dataset: DatasetSplits
    let clients: [ClientData]
    let registry: PluginRegistry
    let modelChoice: PluginChoice
    let writer: RunWriter?
    let progress: (@Sendable (RunProgress) -> Void)?

    let trainer: any TrainerPlugin
    let aggregator: any AggregatorPlugin
    let generator: (any GeneratorPlugin)?
    let distiller: (any DistillerPlugin)?
    let finetuner: FineTuning?
    let global: Network
    /// The network server steps see as `ServerRoundContext.global` (loaded with the aggregated
    /// global model each round; the distiller's student); nil for a method without server steps.
    let serverModel: Network?
    let pool: WorkerPool
    let store: ClientStateStore
    /// Client state kept across rounds besides the personal model (`ClientTrainingContext.carried`).
    let carriedStore: ClientStateStore
    /// The server plugins (aggregator, generator, distiller) that keep server state and send a
    /// payload with each round (SCAFFOLD's c, FedGen's feature generator), in that order.
    let payloadSources: [any RoundPayloadSource]
    /// The aggregator, when its server step also moves the participants' personal states.
    let participantRefresh: (any ParticipantRefresh)?
    /// The trainer, when its clients are tested with a composed model.
    let evaluationComposition: (any EvaluationComposition)?
    /// The round whose evaluation is running (seeds `EvaluationComposition`).
    var evaluationRound = 0
    var timesSampled: [Int]
    /// Per client, the rows of the dataset's test set its test split is made of (checked label by
    /// label), or nil when it is tested on other data (holdout): see `evaluate`.
    let testRows: [[Int]?]
    /// The samples one shared pass covers for the clients' test splits: the test set when the
    /// splits are rows of it, else the clients' own test splits one after another (holdout).
    let clientTestPool: EvaluationPool
    /// The clients' validation splits one after another (their union is the global validation set).
    let validationPool: EvaluationPool
    /// Every client's personalised accuracy at the latest evaluation, nil for a client not scored
    /// (clients.csv reuses the final one).
    var lastClientAccuracies: [Double?]?
    /// The same on the validation splits.
    var lastValidationAccuracies: [Double?]?
    /// `evaluate_with: round-output`: the models this round's server steps left for its sampled
    /// clients (evaluated, never stored).
    var roundOutput: [Int: StateDict] = [:]
    /// The real training data's statistics in the sample space (once per run, for generator methods).
    var realDataStatistics: ValueStatistics?
    /// Writes round checkpoints (`RunCheckpoint`); nil: only the final state is saved.
    public var checkpointer: RunCheckpointer?
    /// A checkpoint to continue from (`exp run --resume`): the run starts after its round.
    public var resumeFrom: RunCheckpoint?

    public init(
        spec: ExperimentSpec, method: MethodSpec, seed: Int, dataset: DatasetSplits, clients: [ClientData],
        registry: PluginRegistry, writer: RunWriter?, progress: (@Sendable (RunProgress) -> Void)? = nil
    ) throws {
        self.method = method
        self.seed = seed
        self.dataset = dataset
        self.clients = clients
        self.registry = registry
        self.modelChoice = spec.model
        self.writer = writer
        self.progress = progress
        AllocatorPolicy.configure()
        settings = RunSettings(federation: spec.federation, evaluation: spec.evaluation, clients: clients.count)
        trainer = try registry.make(method.trainer, as: (any TrainerPlugin).self)
        aggregator = try registry.make(method.aggregator, as: (any AggregatorPlugin).self)
        generator = try method.generator.map { try registry.make($0, as: (any GeneratorPlugin).self) }
        distiller = try method.distiller.map { try registry.make($0, as: (any DistillerPlugin).self) }
        finetuner = settings.finetuneEpochs > 0 ? FineTuning() : nil
        let modelPlugin = try registry.make(spec.model, as: (any ModelPlugin).self)
        let input = ModelInput(dataset)
        // The same initial weights for every method of a seed: a fair comparison.
        let initSeed = spec.federation[Sections.Federation.initSeed].map(UInt64.init)
            ?? Seeds.derive(UInt64(seed), "model-init")
        global = try modelPlugin.build(input, generator: RandomGenerator(seed: initSeed))
        pool = try WorkerPool(count: settings.workers, threadsPerWorker: settings.threadsPerWorker) {
            try modelPlugin.build(input, generator: RandomGenerator(seed: 0))
        }
        serverModel =
            generator != nil || distiller != nil
            ? try modelPlugin.build(input, generator: RandomGenerator(seed: 0)) : nil
        store = ClientStateStore(
            memoryBudget: settings.stateMemoryBudget, spillDirectory: writer.map { $0.directory + "/client-state" })
        carriedStore = ClientStateStore(
            memoryBudget: settings.stateMemoryBudget,
            spillDirectory: writer.map { $0.directory + "/client-carried-state" })
        payloadSources = ([aggregator, generator, distiller] as [Any?]).compactMap { $0 as? any RoundPayloadSource }
        participantRefresh = aggregator as? any ParticipantRefresh
        evaluationComposition = trainer as? any EvaluationComposition
        timesSampled = Array(repeating: 0, count: clients.count)
        testRows = Self.testRows(clients: clients, test: dataset.test, fromTestSet: settings.clientTestsFromTestSet)
        clientTestPool =
            settings.clientTestsFromTestSet
            ? EvaluationPool(samples: dataset.test, clientRows: testRows)
            : EvaluationPool(clientSplits: clients.map(\.test))
        validationPool = EvaluationPool(clientSplits: clients.map(\.validation))
    }

    /// The test-set rows of each client's test split, when the splits are drawn from the test set.
    static func testRows(clients: [ClientData], test: LabeledSamples, fromTestSet: Bool) -> [[Int]?] {
        guard fromTestSet else { return clients.map { _ in nil } }
        let labels = test.labelArray
        return clients.map { client in
            let rows = client.testIndices
            guard rows.count == client.test.count,
                zip(rows, client.test.labelArray).allSatisfy({ $0 >= 0 && $0 < labels.count && labels[$0] == $1 })
            else { return nil }
            return rows
        }
    }

    var seed64: UInt64 { UInt64(seed) }

    /// Runs every round; writes records as it goes. Throws `RunFailure` naming where it stopped.
    public func run() throws -> RunResult {
        let start = Date()
        // Before a resume restores the aggregator's carried state over it.
        let classCounts = clients.reduce(into: [Int](repeating: 0, count: dataset.classes)) { total, client in
            for (c, n) in client.classCounts.enumerated() where c < total.count { total[c] += n }
        }
        let facts = FederationFacts(
            clients: clients.count, seed: seed64, global: try global.stateDict().copy(),
            localLearningRate: settings.local.learningRate, classCounts: classCounts,
            featureWidth: FeatureWidth.of(global, inputShape: dataset.inputShape, inputKind: dataset.inputKind))
        for source in payloadSources { try source.start(facts) }
        let restored = try restoreCheckpoint()
        var records = restored.records
        TorchThreads.set(settings.workers * settings.threadsPerWorker)
        // OpenBLAS's pool is process-wide: parallel workers must not share (and spin on) it.
        let blasBefore = BLASThreads.current
        BLASThreads.set(BLASThreads.count(workers: settings.workers, threadsPerWorker: settings.threadsPerWorker))
        defer { if let blasBefore { BLASThreads.set(blasBefore) } }
        for round in stride(from: restored.firstRound, through: settings.rounds, by: 1) {
            records.append(try runRound(round))
            let personal = records.last { $0.personalized != nil }?.personalized
            progress?(
                RunProgress(
                    method: method.label, seed: seed, round: round, rounds: settings.rounds,
                    globalAccuracy: records.last { $0.globalAccuracy != nil }?.globalAccuracy,
                    personalizedAccuracy: personal?.weightedMean, personalizedClients: personal?.clients,
                    clients: clients.count, elapsedSeconds: Date().timeIntervalSince(start)))
            try afterRound(round, records: records)
        }
        return try finish(records: records)
    }

    /// One round (docs/design.md §5), one phase per file: local updates
    /// (SimulationRun+LocalTraining.swift), aggregation (+Aggregation), server steps
    /// (+ServerSteps), evaluation (+Evaluation). Writes the round's record and timings.
    func runRound(_ round: Int) throws -> RoundRecord {
        let roundStart = Date()
        var timing = RoundTiming(
            round: round, localSeconds: 0, aggregateSeconds: 0, serverSeconds: 0, evalSeconds: 0, totalSeconds: 0)
        var sampler = Seeds.stream(seed64, "sample", round)
        let sampled = sampler.sample(settings.clientsPerRound, from: clients.count).sorted()

        // 1. Local updates, in parallel.
        var t = Date()
        // The round's global model for the trainers: detached views, not a copy (nothing writes
        // the global model until every client of the round has finished).
        let globalSnapshot = StateDict(try global.stateDict().entries.map { ($0.name, try $0.tensor.detached()) })
        let payload = try roundPayload(round)
        let outcomes = try localUpdates(round: round, sampled: sampled, global: globalSnapshot, payload: payload)
        timing.localSeconds = Date().timeIntervalSince(t)

        // 2. Aggregation.
        t = Date()
        var serverMetrics = try aggregationStep(
            round: round, sampled: sampled, outcomes: outcomes, global: globalSnapshot)
        timing.aggregateSeconds = Date().timeIntervalSince(t)

        // 3-4. Server steps (generator, distillation).
        t = Date()
        if let serverModel {
            serverMetrics.merge(
                try serverSteps(round: round, sampled: sampled, outcomes: outcomes, serverModel: serverModel)
            ) { $1 }
        }
        timing.serverSeconds = Date().timeIntervalSince(t)
        let wallTimes = serverMetrics.filter { $0.key.hasSuffix(".seconds") }
        if !wallTimes.isEmpty {
            timing.serverSteps = wallTimes
            serverMetrics = serverMetrics.filter { !$0.key.hasSuffix(".seconds") }
        }

        // 5. Evaluation.
        t = Date()
        let totalSamples = outcomes.reduce(0) { $0 + $1.update.samples }
        let trainLoss =
            outcomes.reduce(0.0) { $0 + $1.report.trainLoss * Double($1.update.samples) } / Double(max(1, totalSamples))
        let communicated =
            aggregator.updatesGlobalModel ? aggregator.communicated(global.stateDict()).scalarCount * 4 : 0
        // Payloads and uploads (SCAFFOLD's control variates) travel besides the model.
        let uploaded = outcomes.map { $0.update.upload.scalarCount * 4 }.max() ?? 0
        var record = RoundRecord(
            round: round, sampledClients: sampled, trainLoss: trainLoss, globalAccuracy: nil,
            participants: timesSampled.filter { $0 > 0 }.count,
            personalized: nil, personalizedFinetuned: nil, bytesUpPerClient: communicated + uploaded,
            bytesDownPerClient: communicated + payload.scalarCount * 4, server: serverMetrics)
        if settings.evaluates(round: round) {
            try AllocatorPolicy.duringEvaluation { try evaluate(into: &record) }
        }
        timing.evalSeconds = Date().timeIntervalSince(t)
        timing.totalSeconds = Date().timeIntervalSince(roundStart)
        try writer?.append(record: record, timing: timing)
        return record
    }

    /// After the last round: clients.csv, the final state (when no checkpointer saved it) and the
    /// run's summary metrics.
    func finish(records: [RoundRecord]) throws -> RunResult {
        let clientRows = try AllocatorPolicy.duringEvaluation { try clientReport() }
        try writer?.writeClients(clientRows)
        if checkpointer == nil {
            try writer?.saveCheckpoint(
                global: global.stateDict(), store: store, clients: clients.count, round: settings.rounds)
            try writer?.saveClientCarriedStates(carriedStore, clients: clients.count, round: settings.rounds)
        }
        if writer != nil {  // scratch: the checkpoint holds every state now
            store.discardSpilledStates()
            carriedStore.discardSpilledStates()
        }
        let summary = RunSummary.metrics(
            records, last: settings.lastRounds,
            personalOnGlobalTest: clientRows.compactMap(\.globalTestAccuracy))
        return RunResult(method: method.label, seed: seed, records: records, summary: summary)
    }
}
