import Foundation
import Torch

/// Progress of a run, for the live status line.
public struct RunProgress: Sendable {
    public var method: String
    public var seed: Int
    public var round: Int
    public var rounds: Int
    public var globalAccuracy: Double?
    public var personalizedAccuracy: Double?
    /// How many clients the personalised accuracy is over, and of how many.
    public var personalizedClients: Int?
    public var clients: Int
    public var elapsedSeconds: Double
}

/// The outcome of one (method, seed) run.
public struct RunResult: Sendable {
    public var method: String
    public var seed: Int
    public var records: [RoundRecord]
    /// Metric name -> (final value, mean over the last `lastRounds` evaluations).
    public var summary: [String: (final: Double, lastMean: Double)]
}

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
    let pool: WorkerPool
    let store: ClientStateStore
    /// Client state kept across rounds besides the personal model (`ClientTrainingContext.carried`).
    let carriedStore: ClientStateStore
    /// The aggregator, when it keeps server state and sends a payload with each round.
    let payloadSource: (any RoundPayloadSource)?
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

    public init(spec: ExperimentSpec, method: MethodSpec, seed: Int, dataset: DatasetSplits, clients: [ClientData],
                registry: PluginRegistry, writer: RunWriter?, progress: (@Sendable (RunProgress) -> Void)? = nil) throws {
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
        global = try modelPlugin.build(input, generator: RandomGenerator(seed: Seeds.derive(UInt64(seed), "model-init")))
        pool = try WorkerPool(count: settings.workers, threadsPerWorker: settings.threadsPerWorker) {
            try modelPlugin.build(input, generator: RandomGenerator(seed: 0))
        }
        store = ClientStateStore(memoryBudget: settings.stateMemoryBudget, spillDirectory: writer.map { $0.directory + "/client-state" })
        carriedStore = ClientStateStore(memoryBudget: settings.stateMemoryBudget,
                                        spillDirectory: writer.map { $0.directory + "/client-carried-state" })
        payloadSource = aggregator as? any RoundPayloadSource
        participantRefresh = aggregator as? any ParticipantRefresh
        evaluationComposition = trainer as? any EvaluationComposition
        timesSampled = Array(repeating: 0, count: clients.count)
        testRows = Self.testRows(clients: clients, test: dataset.test, fromTestSet: settings.clientTestsFromTestSet)
        clientTestPool = settings.clientTestsFromTestSet ? EvaluationPool(samples: dataset.test, clientRows: testRows)
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
                  zip(rows, client.test.labelArray).allSatisfy({ $0 >= 0 && $0 < labels.count && labels[$0] == $1 }) else { return nil }
            return rows
        }
    }

    var seed64: UInt64 { UInt64(seed) }

    /// Runs every round; writes records as it goes. Throws `RunFailure` naming where it stopped.
    public func run() throws -> RunResult {
        let start = Date()
        // Before a resume restores the aggregator's carried state over it.
        try payloadSource?.start(FederationFacts(clients: clients.count, seed: seed64, global: global.stateDict().copy(),
                                                 localLearningRate: settings.local.learningRate))
        let restored = try restoreCheckpoint()
        var records = restored.records
        TorchThreads.set(settings.workers * settings.threadsPerWorker)
        // OpenBLAS's pool is process-wide: parallel workers must not share (and spin on) it.
        let blasBefore = BLASThreads.current
        BLASThreads.set(BLASThreads.count(workers: settings.workers, threadsPerWorker: settings.threadsPerWorker))
        defer { if let blasBefore { BLASThreads.set(blasBefore) } }
        for round in stride(from: restored.firstRound, through: settings.rounds, by: 1) {
            let roundStart = Date()
            var timing = RoundTiming(round: round, localSeconds: 0, aggregateSeconds: 0, serverSeconds: 0, evalSeconds: 0, totalSeconds: 0)
            var sampler = Seeds.stream(seed64, "sample", round)
            let sampled = sampler.sample(settings.clientsPerRound, from: clients.count).sorted()

            // 1. Local updates, in parallel.
            var t = Date()
            // The round's global model for the trainers: detached views, not a copy (nothing writes
            // the global model until every client of the round has finished).
            let globalSnapshot = StateDict(try global.stateDict().entries.map { ($0.name, try $0.tensor.detached()) })
            // Largest clients first, so that no long client runs alone at the end of the round.
            // Personal states go to the store as each client finishes, and updates nobody reads are
            // dropped: a round of 1,000 clients holds 1,000 states only when they are aggregated.
            let updatesNeeded = aggregator.updatesGlobalModel || distiller != nil
            let payload = try payloadSource?.payload(round: round) ?? StateDict([])
            let outcomes = try trainClients(sampled, round: round, global: globalSnapshot, payload: payload) { trained in
                var outcome = trained
                if let personal = outcome.personal { try self.store.put(trained.update.client, personal) }
                if let carried = outcome.carried { try self.carriedStore.put(trained.update.client, carried) }
                outcome.personal = nil
                outcome.carried = nil
                if !updatesNeeded { outcome.update.state = StateDict([]) }
                return outcome
            }
            for o in outcomes { timesSampled[o.update.client] += 1 }
            roundOutput = [:]
            timing.localSeconds = Date().timeIntervalSince(t)

            // 2. Aggregation.
            t = Date()
            var serverMetrics: [String: Double] = [:]
            if aggregator.updatesGlobalModel {
                let aggregate = try aggregator.aggregate(outcomes.map(\.update), global: globalSnapshot)
                try global.stateDict().update(from: aggregate.state)
                serverMetrics = aggregate.metrics
                try checkFinite(global.stateDict(), round: round, what: "the aggregated global model")
            }
            if let participantRefresh {
                let aggregated = global.stateDict()
                for client in sampled {
                    guard let personal = try store.get(client) else { continue }
                    try store.put(client, participantRefresh.refreshed(personal: personal, client: client, round: round, global: aggregated))
                }
            }
            timing.aggregateSeconds = Date().timeIntervalSince(t)

            // 3-4. Server steps (generator, distillation).
            t = Date()
            if let distiller {
                serverMetrics.merge(try serverSteps(round: round, sampled: sampled, outcomes: outcomes, distiller: distiller)) { $1 }
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
            let trainLoss = outcomes.reduce(0.0) { $0 + $1.report.trainLoss * Double($1.update.samples) } / Double(max(1, totalSamples))
            let communicated = aggregator.updatesGlobalModel ? aggregator.communicated(global.stateDict()).scalarCount * 4 : 0
            // Payloads and uploads (SCAFFOLD's control variates) travel besides the model.
            let uploaded = outcomes.map { $0.update.upload.scalarCount * 4 }.max() ?? 0
            var record = RoundRecord(round: round, sampledClients: sampled, trainLoss: trainLoss, globalAccuracy: nil,
                                     participants: timesSampled.filter { $0 > 0 }.count,
                                     personalized: nil, personalizedFinetuned: nil, bytesUpPerClient: communicated + uploaded,
                                     bytesDownPerClient: communicated + payload.scalarCount * 4, server: serverMetrics)
            if settings.evaluates(round: round) {
                try evaluate(into: &record)
            }
            timing.evalSeconds = Date().timeIntervalSince(t)
            timing.totalSeconds = Date().timeIntervalSince(roundStart)
            records.append(record)
            try writer?.append(record: record, timing: timing)
            let personal = records.last { $0.personalized != nil }?.personalized
            progress?(RunProgress(method: method.label, seed: seed, round: round, rounds: settings.rounds,
                                  globalAccuracy: records.last { $0.globalAccuracy != nil }?.globalAccuracy,
                                  personalizedAccuracy: personal?.weightedMean, personalizedClients: personal?.clients,
                                  clients: clients.count, elapsedSeconds: Date().timeIntervalSince(start)))
            try afterRound(round, records: records)
        }
        let clientRows = try clientReport()
        try writer?.writeClients(clientRows)
        if checkpointer == nil {
            try writer?.saveCheckpoint(global: global.stateDict(), store: store, clients: clients.count, round: settings.rounds)
            try writer?.saveClientCarriedStates(carriedStore, clients: clients.count, round: settings.rounds)
        }
        if writer != nil {  // scratch: the checkpoint holds every state now
            store.discardSpilledStates()
            carriedStore.discardSpilledStates()
        }
        let summary = RunSummary.metrics(records, last: settings.lastRounds,
                                         personalOnGlobalTest: clientRows.compactMap(\.globalTestAccuracy))
        return RunResult(method: method.label, seed: seed, records: records, summary: summary)
    }

    struct ClientOutcome {
        var update: ClientUpdate
        var personal: StateDict?
        /// What the client keeps besides its personal model (nil: nothing to store).
        var carried: StateDict?
        var report: LocalTrainingReport
    }

    /// Loads the client's start state into the worker's model and runs the trainer.
    func trainClient(_ client: Int, round: Int, worker: Worker, global: StateDict,
                     payload: StateDict = StateDict([])) throws -> ClientOutcome {
        let personal = try store.get(client)
        let model = worker.model
        try model.load(global)
        switch method.localStart {
        case .global: break
        case .personal: if let personal { try model.load(personal, strict: false) }
        case .globalBody: if let personal { try model.load(personal.under("head"), strict: false) }
        }
        model.setTraining(true)
        model.generator.reseed(Seeds.derive(seed64, "dropout", round, client))
        let context = ClientTrainingContext(
            client: client, round: round, model: model, scratch: worker.scratch, data: clients[client].train,
            global: global, personal: personal, settings: settings.local,
            generator: RandomGenerator(seed: Seeds.derive(seed64, "train", round, client)), augmentation: dataset.augmentation,
            payload: payload, carried: try carriedStore.get(client))
        let report: LocalTrainingReport
        do {
            report = try trainer.train(context)
        } catch {
            throw RunFailure(method: method.label, seed: seed, round: round, client: client, message: "\(error)")
        }
        return try outcome(client: client, round: round, state: model.stateDict().copy(), report: report)
    }

    /// A trained client's outcome from its model's state (a copy) and its trainer's report: checks
    /// the state is finite and picks what the client keeps (the method's `personal`).
    func outcome(client: Int, round: Int, state: StateDict, report: LocalTrainingReport) throws -> ClientOutcome {
        try checkFinite(state, round: round, client: client, what: "the local model")
        let kept: StateDict?
        if let personal = report.personal {
            kept = personal
        } else {
            switch method.personal {
            case .none: kept = nil
            case .head: kept = state.under("head")
            case .model: kept = state
            case .unshared:
                let shared = Set(aggregator.communicated(state).names)
                kept = state.filter { !shared.contains($0) }
            }
        }
        return ClientOutcome(update: ClientUpdate(client: client, state: state, samples: clients[client].train.count,
                                                  upload: report.upload),
                             personal: kept, carried: report.carried, report: report)
    }

    func checkFinite(_ state: StateDict, round: Int, client: Int? = nil, what: String) throws {
        guard try state.flattened().allFinite() else {
            throw RunFailure(method: method.label, seed: seed, round: round, client: client,
                             message: "diverged: \(what) has NaN or infinite weights (try a smaller lr)")
        }
    }

    /// Generator training and distillation against the sampled clients' models.
    func serverSteps(round: Int, sampled: [Int], outcomes: [ClientOutcome], distiller: any DistillerPlugin) throws -> [String: Double] {
        // One worker's thread count, whatever the number of workers: parallel reductions split
        // by thread count would otherwise make the server steps' results depend on `workers`.
        let callerThreads = TorchThreads.current
        TorchThreads.set(settings.threadsPerWorker)
        defer { TorchThreads.set(callerThreads) }
        var teachers: [Teacher] = []
        for o in outcomes {
            let client = o.update.client
            let state = method.personal == .model ? try store.get(client) ?? o.update.state : o.update.state
            teachers.append(Teacher(client: client, state: state, classCounts: clients[client].classCounts))
        }
        let context = ServerRoundContext(
            round: round, global: global, workspace: pool.workers.flatMap { [$0.model, $0.scratch] }, teachers: teachers,
            classes: dataset.classes, inputShape: dataset.inputShape, inputKind: dataset.inputKind,
            generator: RandomGenerator(seed: Seeds.derive(seed64, "server", round)), localBatchSize: settings.local.batchSize)
        do {
            let source: any SyntheticDataSource
            if let generator {
                try generator.train(context)
                source = GeneratorSource(generator: generator)
            } else {
                // The space the models are fed in: for token models, sequences of embedding vectors.
                source = GaussianNoiseSource(shape: try SampleSpace.shape(context))
            }
            try distiller.distill(context, source: source)
        } catch let failure as RunFailure {
            throw failure
        } catch {
            throw RunFailure(method: method.label, seed: seed, round: round, message: "server step failed: \(error)")
        }
        if method.evaluateWith == .roundOutput {
            // Evaluated only: with personal: head the store keeps the head, next round restarts
            // from the global body + that head (docs/design.md §6.6 step 5).
            for teacher in context.teachers { roundOutput[teacher.client] = teacher.state }
        } else if method.personal == .model {
            for teacher in context.teachers { try store.put(teacher.client, teacher.state) }
        }
        try checkFinite(global.stateDict(), round: round, what: "the global model after distillation")
        var metrics = context.metrics
        if let generator {
            do {
                if realDataStatistics == nil {
                    realDataStatistics = try GeneratorSampleStatistics.realData(clients, kind: dataset.inputKind, network: global,
                                                                                batchSize: settings.evalBatchSize)
                }
                let generated = try GeneratorSampleStatistics.generated(generator, classes: dataset.classes, seed: seed64, round: round)
                metrics.merge(GeneratorSampleStatistics.metrics(generated: generated, real: realDataStatistics!)) { _, new in new }
            } catch {
                throw RunFailure(method: method.label, seed: seed, round: round, message: "generator sample statistics failed: \(error)")
            }
        }
        return metrics
    }

    /// The state a client is tested with, as `evaluate_with` declares (docs/design.md §7): the global
    /// model, the round's output for this round's clients (round-output), else its personal state
    /// composed over the global model (its head on the global body, or its whole model).
    func evaluationState(client: Int, worker: Worker) throws {
        try worker.model.load(global.stateDict())
        switch method.evaluateWith {
        case .global: break
        case .roundOutput:
            if let output = roundOutput[client] {
                try worker.model.load(output, strict: false)
                return
            }
            _ = try store.load(client, into: worker.model)
        case .personal:
            _ = try store.load(client, into: worker.model)
        }
        try composeEvaluationModel(client: client, worker: worker)
    }

    /// When the trainer composes the tested model (`EvaluationComposition`: APFL's mixture,
    /// Per-FedAvg's local step, FedBABU's fine-tuning), that composition over the loaded state,
    /// seeded by (seed, round being evaluated, client).
    func composeEvaluationModel(client: Int, worker: Worker) throws {
        guard let evaluationComposition else { return }
        let round = evaluationRound
        worker.model.setTraining(true)
        worker.model.generator.reseed(Seeds.derive(seed64, "evaluate-dropout", round, client))
        let context = ClientTrainingContext(
            client: client, round: round, model: worker.model, scratch: worker.scratch, data: clients[client].train,
            global: global.stateDict(), personal: try store.get(client),
            settings: settings.local, generator: RandomGenerator(seed: Seeds.derive(seed64, "evaluate", round, client)),
            carried: try carriedStore.get(client))
        try evaluationComposition.composeEvaluationModel(context)
    }

    /// Whether a client is scored: tested with the global model, or it has trained at least once
    /// (a client that never trained has no personal model; it is never scored with a random head).
    func isScored(_ client: Int) -> Bool {
        method.evaluateWith == .global || timesSampled[client] > 0
    }

    /// Every client's accuracy with the model docs/design.md §7 names (see `evaluationState`), plus the global
    /// model's accuracy on the whole test set when the method has a global model.
    ///
    /// Shared passes (SimulationRun+SharedEvaluation.swift): when the clients' test splits are rows
    /// of the test set (local_test: matched or natural), one pass of the global model over the test
    /// set serves every client tested with the global model (FedAvg, FedProx, every client not
    /// sampled yet) and, through its body features, every client with a personal head; holdout
    /// splits are pooled into one pass of their own in large batches. Only whole personal models
    /// (Local, Ditto, FedBKD) run a forward pass per client.
    func personalizedAccuracies() throws -> (clients: [Double?], global: Double?) {
        let tests = clientTests(clientTestPool)
        let needs = Self.passNeeds(tests)
        let measuresGlobal = aggregator.updatesGlobalModel
        let pass = needs.pass || (measuresGlobal && settings.clientTestsFromTestSet)
            ? try sharedPass(over: clientTestPool, features: needs.features) : nil
        let accuracies = try clientAccuracies(tests, pass: pass, split: { self.clients[$0].test }, emptySplit: 0)
        var globalAccuracy: Double? = nil
        if measuresGlobal {
            let testPass = try settings.clientTestsFromTestSet ? pass!
                : sharedPass(over: EvaluationPool(samples: dataset.test, clientRows: clients.map { _ in nil }), features: false)
            globalAccuracy = Accuracy.fraction(testPass.correct)
        }
        return (accuracies, globalAccuracy)
    }

    func evaluate(into record: inout RoundRecord) throws {
        evaluationRound = record.round
        let (accuracies, globalAccuracy) = try personalizedAccuracies()
        lastClientAccuracies = accuracies
        record.globalAccuracy = globalAccuracy
        let sizes = clients.map(\.test.count)
        record.personalized = PersonalizedAccuracy.over(accuracies, testSizes: sizes)
        if accuracies.allSatisfy({ $0 != nil }) { record.personalizedAll = record.personalized }
        if let validation = try validationAccuracies() {
            lastValidationAccuracies = validation.clients
            record.validation = ValidationMetrics(
                globalAccuracy: validation.global,
                personalized: PersonalizedAccuracy.over(validation.clients, testSizes: clients.map(\.validation.count)))
        }
        if let finetuner {
            let globalSnapshot = try global.stateDict().copy()
            let tuned = try pool.map(Array(clients.indices)) { worker, client -> Double in
                try self.evaluationState(client: client, worker: worker)
                worker.model.setTraining(true)
                var local = self.settings.local
                local.epochs = self.settings.finetuneEpochs
                let context = ClientTrainingContext(
                    client: client, round: record.round, model: worker.model, scratch: worker.scratch,
                    data: self.clients[client].train, global: globalSnapshot, personal: nil, settings: local,
                    generator: RandomGenerator(seed: Seeds.derive(self.seed64, "finetune", record.round, client)))
                _ = try finetuner.train(context)
                worker.model.setTraining(false)
                return Accuracy.fraction(try Accuracy.correctness(of: worker.model, on: self.clients[client].test,
                                                                  batchSize: self.settings.evalBatchSize))
            }
            record.personalizedFinetuned = PersonalizedAccuracy(accuracies: tuned, testSizes: sizes)
        }
    }

    /// Per-client final figures for clients.csv (the final round is always evaluated: its
    /// accuracies are reused, not recomputed).
    func clientReport() throws -> [ClientRow] {
        evaluationRound = settings.rounds
        let accuracies = try lastClientAccuracies ?? personalizedAccuracies().clients
        let validation = try lastValidationAccuracies ?? validationAccuracies()?.clients
        var onGlobalTest: [Double?]? = nil
        if settings.personalGlobalTest, method.evaluateWith != .global || evaluationComposition != nil {
            onGlobalTest = try pool.map(Array(clients.indices)) { worker, client -> Double? in
                guard self.isScored(client) else { return nil }
                try self.evaluationState(client: client, worker: worker)
                worker.model.setTraining(false)
                return Accuracy.fraction(try Accuracy.correctness(of: worker.model, on: self.dataset.test,
                                                                  batchSize: self.settings.evalBatchSize))
            }
        }
        return clients.indices.map { c in
            let evaluatedWith = !isScored(c) ? "never-trained"
                : method.evaluateWith == .roundOutput && roundOutput[c] == nil ? EvaluationModel.personal.rawValue
                : method.evaluateWith.rawValue
            return ClientRow(client: c, trainSamples: clients[c].train.count, validationSamples: clients[c].validation.count,
                             testSamples: clients[c].test.count, classes: clients[c].classCounts.filter { $0 > 0 }.count,
                             timesSampled: timesSampled[c], hasPersonalState: store.contains(c), evaluatedWith: evaluatedWith,
                             personalizedAccuracy: accuracies[c], validationAccuracy: validation?[c] ?? nil,
                             globalTestAccuracy: onGlobalTest?[c] ?? nil)
        }
    }
}

/// A generator as a distiller's sample source.
public struct GeneratorSource: SyntheticDataSource {
    public let generator: any GeneratorPlugin
    public init(generator: any GeneratorPlugin) { self.generator = generator }
    public func sample(labels: Tensor, generator rng: RandomGenerator) throws -> Tensor { try generator.sample(labels: labels, generator: rng) }
}

/// Plain Gaussian noise in the input space (the `fedbkd-noise` ablation: no generator).
public struct GaussianNoiseSource: SyntheticDataSource {
    public let shape: [Int]
    public init(shape: [Int]) { self.shape = shape }
    public func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor {
        try Tensor.randn([labels.shape[0]] + shape, generator: generator)
    }
}

/// One row of clients.csv.
public struct ClientRow: Sendable {
    public var client: Int
    public var trainSamples: Int
    public var validationSamples: Int
    public var testSamples: Int
    public var classes: Int
    public var timesSampled: Int
    public var hasPersonalState: Bool
    /// The model the final accuracy is from (`global`, `personal`, `round-output`), or
    /// `never-trained` for a client that was never scored.
    public var evaluatedWith: String
    /// Its final personalised accuracy; nil when never scored.
    public var personalizedAccuracy: Double?
    /// The same on its validation split; nil when never scored or the split is empty.
    public var validationAccuracy: Double?
    /// The client's personal model on the whole test set (eval.personal_global_test), else nil.
    public var globalTestAccuracy: Double?
}
